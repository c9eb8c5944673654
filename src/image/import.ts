// From an image source (a registry, an OCI layout, an archive) into the
// store, with every check of docs/ARCHITECTURE.md "Images": the manifest
// against the index or reference, the config and each blob against their
// digests while they stream, each unpacked layer against the config's
// rootfs.diff_ids, and their count against the manifest's layers. A failed
// import leaves no image entry and no layer that it made.
import fs from 'node:fs';
import { pipeline, type Readable } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { TcrError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { checkDigest, readLimited, sha256, verifyBuffer } from './digest.js';
import { DigestVerifier } from './digest-verifier.js';
import { formatPlatform, hostPlatform, isIndex, selectPlatform, type Platform } from './platform.js';
import { quietProgress, type Progress } from './progress.js';
import { storeError } from './store-files.js';
import type { Compression, ImageStore } from './store.js';
import { MEDIA, type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, type StoredImage } from './types.js';

/** Manifests and configs are small; anything bigger is refused unread. */
export const MAX_METADATA = 8 * 1024 * 1024;

export interface ImageSource {
  /** for messages: "127.0.0.1:5000/test/img", "OCI layout /tmp/x" */
  readonly description: string;
  /** A manifest or index named by a descriptor; the bytes are checked by the caller. */
  fetchManifest(desc: Descriptor): Promise<Buffer>;
  /** A blob's bytes, unchecked; errors that deserve a retry carry `transient: true`. */
  fetchBlob(desc: Descriptor): Promise<Readable>;
  /** Sources that can only be read in order (a tar stream) hand over the wanted layers themselves. */
  streamLayers?(wanted: Descriptor[], take: (desc: Descriptor, stream: Readable) => Promise<void>): Promise<void>;
}

export interface PreparedImage {
  what: string;
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  layers: { desc: Descriptor; diffId: string; compression: Compression }[];
  names: string[];
  repoDigests: string[];
}

export interface ImportOptions {
  progress?: Progress;
  /** parallel layer downloads (default 3) */
  concurrency?: number;
  /** attempts per layer on network errors (default 4) */
  attempts?: number;
  /** ms before the first retry, doubling (default 500) */
  backoff?: number;
  platform?: Platform;
  /** refuse a layer whose uncompressed tar is larger (default: the unpacker's, 64 GiB) */
  maxLayerBytes?: number;
}

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (e) {
    throw new TcrError(`${what}: not valid JSON (${errorMessage(e)})`);
  }
}

function checkDescriptor(d: unknown, what: string): Descriptor {
  const desc = d as Descriptor;
  if (!desc || typeof desc !== 'object') throw new TcrError(`${what}: missing descriptor`);
  checkDigest(desc.digest, `${what}: digest`);
  if (!Number.isSafeInteger(desc.size) || desc.size < 0)
    throw new TcrError(`${what}: size ${JSON.stringify(desc.size)} is not a byte count`);
  if (typeof desc.mediaType !== 'string') throw new TcrError(`${what}: no mediaType`);
  return desc;
}

/** How a layer is compressed, from its media type (docker's and OCI's, distributable or not). */
export function layerCompression(mediaType: string, what: string): Compression {
  if (/\+encrypted$/.test(mediaType)) throw new TcrError(`${what}: encrypted layers (${mediaType}) are not supported`);
  if (/(\+|\.tar\.)gzip$/.test(mediaType)) return 'gzip';
  if (/\+zstd$/.test(mediaType)) return 'zstd';
  if (/[.+/]tar$/.test(mediaType) || mediaType === 'application/vnd.docker.image.rootfs.diff.tar') return 'none';
  throw new TcrError(`${what}: media type ${JSON.stringify(mediaType)} is not a container image layer`);
}

/**
 * Top-level manifest bytes (already checked against the reference, if it
 * had a digest) → the manifest for this platform, checked against the
 * index's descriptor. Nested indexes are followed.
 */
export async function resolveManifest(
  source: ImageSource,
  top: Buffer,
  what: string,
  platform: Platform = hostPlatform(),
): Promise<{ bytes: Buffer; digest: string }> {
  let bytes = top;
  for (let depth = 0; depth < 4; depth++) {
    const doc = parseJson<ImageIndex & ImageManifest>(bytes, `${what}: manifest`);
    if (!isIndex(doc.mediaType, doc)) return { bytes, digest: sha256(bytes) };
    const desc = checkDescriptor(selectPlatform(doc, platform, what), `${what}: index entry`);
    if (desc.size > MAX_METADATA) throw new TcrError(`${what}: manifest ${desc.digest} declares ${desc.size} bytes; refused`);
    const next = await source.fetchManifest(desc);
    verifyBuffer(next, desc, `${what}: manifest ${desc.digest} (${formatPlatform(desc.platform)})`);
    bytes = next;
  }
  throw new TcrError(`${what}: image indexes nested too deep`);
}

/** Checks a manifest, fetches and checks its config, pairs layers with diff_ids. */
export async function prepareImage(
  source: ImageSource,
  manifestBytes: Buffer,
  opts: { names?: string[]; repoDigests?: string[]; what?: string; platform?: Platform; attempts?: number; backoff?: number } = {},
): Promise<PreparedImage> {
  const manifestDigest = sha256(manifestBytes);
  const what = opts.what ?? source.description;
  const m = parseJson<ImageManifest>(manifestBytes, `${what}: manifest ${manifestDigest}`);
  const mw = `${what}: manifest ${manifestDigest}`;
  if (m.schemaVersion !== 2)
    throw new TcrError(`${mw}: schemaVersion ${JSON.stringify(m.schemaVersion)} is not supported (only 2: docker v2 schema 2 and OCI)`);
  if (m.mediaType !== undefined && m.mediaType !== MEDIA.ociManifest && m.mediaType !== MEDIA.dockerManifest)
    throw new TcrError(`${mw}: mediaType ${JSON.stringify(m.mediaType)} is not an image manifest`);
  const cdesc = checkDescriptor(m.config, `${mw}: config`);
  if (cdesc.mediaType !== MEDIA.ociConfig && cdesc.mediaType !== MEDIA.dockerConfig)
    throw new TcrError(`${mw}: config media type ${JSON.stringify(cdesc.mediaType)}: this is not a container image (an artifact?)`);
  if (!Array.isArray(m.layers)) throw new TcrError(`${mw}: no "layers" array`);
  const layerDescs = m.layers.map((l, i) => checkDescriptor(l, `${mw}: layers[${i}]`));
  if (cdesc.size > MAX_METADATA) throw new TcrError(`${mw}: config declares ${cdesc.size} bytes; refused`);
  const cw = `${what}: config ${cdesc.digest}`;
  const config = await withRetries(async () => readLimited(await source.fetchBlob(cdesc), MAX_METADATA, cw), opts);
  verifyBuffer(config, cdesc, cw);
  const c = parseJson<ImageConfig>(config, cw);
  const diffIds = c.rootfs?.diff_ids;
  if (c.rootfs?.type !== 'layers' || !Array.isArray(diffIds)) throw new TcrError(`${cw}: no rootfs.diff_ids list`);
  diffIds.forEach((d, i) => checkDigest(d, `${cw}: rootfs.diff_ids[${i}]`));
  if (diffIds.length !== layerDescs.length)
    throw new TcrError(
      `${what}: config lists ${diffIds.length} layer diff_ids but the manifest has ${layerDescs.length} layers; the image is malformed`,
    );
  const want = opts.platform ?? hostPlatform();
  if (c.os !== want.os || c.architecture !== want.architecture)
    log.warn(`${what}: image is for ${formatPlatform(c)}, this machine is ${formatPlatform(want)}; its programs may not run`);
  return {
    what,
    manifest: manifestBytes,
    manifestDigest,
    config,
    layers: layerDescs.map((desc, i) => ({
      desc,
      diffId: diffIds[i],
      compression: layerCompression(desc.mediaType, `${what}: layers[${i}]`),
    })),
    names: opts.names ?? [],
    repoDigests: opts.repoDigests ?? [],
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function isTransient(e: unknown): boolean {
  const err = e as { transient?: boolean; cause?: { transient?: boolean } };
  return !!(err?.transient || err?.cause?.transient);
}

/** Marks a transient error as retried enough, so an outer retry loop does not start over. */
export function spent(e: unknown): unknown {
  if (e && typeof e === 'object' && 'transient' in e) (e as { transient: boolean }).transient = false;
  return e;
}

/** Runs `fn` again after a transient failure (a connection lost mid-way), with doubling waits. */
export async function withRetries<T>(
  fn: () => Promise<T>,
  opts: { attempts?: number; backoff?: number; onRetry?: (e: unknown, wait: number, attempt: number) => void } = {},
): Promise<T> {
  const attempts = opts.attempts ?? 4;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isTransient(e)) throw e;
      if (attempt >= attempts) throw spent(e);
      const wait = (opts.backoff ?? 500) * 2 ** (attempt - 1);
      if (opts.onRetry) opts.onRetry(e, wait, attempt);
      else log.warn(`${errorMessage(e)}; retrying in ${wait} ms (attempt ${attempt + 1} of ${attempts})`);
      await sleep(wait);
    }
  }
}

/** Pipes raw blob bytes through a digest check; commit is vetoed unless it passed. */
function verified(raw: Readable, desc: Descriptor, what: string, progress: Progress): { stream: DigestVerifier; check: () => void } {
  const v = new DigestVerifier(desc, `${what}: layer ${desc.digest}`);
  v.onProgress = (n) => progress.update(desc.digest, n);
  pipeline(raw, v, () => {}); // errors reach the unpacker through v
  return {
    stream: v,
    check: () => {
      if (!v.verified) throw new TcrError(`${what}: layer ${desc.digest} was not read to its end, so its digest could not be checked`);
    },
  };
}

type Wanted = PreparedImage['layers'][number] & { what: string; /** diffIDs below it in its image, bottom first */ lowers: string[] };

/**
 * Brings every layer of `images` into the store (pushing the diffIDs it
 * created onto `created`). A layer is unpacked with the layers below it
 * present, since a hard link in it may name a file of a lower layer
 * (docs/ARCHITECTURE.md, "Images"): one whose lowers are still on their way
 * is first downloaded (and checked) into a staging file, and unpacked once
 * they are in. Downloads still run `concurrency` at a time.
 */
async function fetchLayers(
  store: ImageStore,
  source: ImageSource,
  images: PreparedImage[],
  opts: ImportOptions,
  created: string[],
): Promise<void> {
  const progress = opts.progress ?? quietProgress;
  const wanted = new Map<string, Wanted>();
  for (const img of images) {
    img.layers.forEach((l, i) => {
      if (store.hasLayer(l.diffId)) progress.done(l.desc.digest, 'Already exists');
      else if (!wanted.has(l.diffId)) wanted.set(l.diffId, { ...l, what: img.what, lowers: img.layers.slice(0, i).map((x) => x.diffId) });
    });
  }
  const lowersReady = (l: Wanted) => l.lowers.every((d) => store.hasLayer(d));
  const one = async (l: Wanted, open: () => Promise<Readable>): Promise<void> => {
    let check = () => {};
    // the unpacker wants the lowers top first, as overlayfs's lowerdir lists them
    const r = await store.ensureLayer(
      l.diffId,
      async () => {
        const v = verified(await open(), l.desc, l.what, progress);
        check = v.check;
        return v.stream;
      },
      l.compression,
      { lowerDirs: l.lowers.map((d) => store.layerDir(d)).reverse(), maxBytes: opts.maxLayerBytes, beforeCommit: () => check() },
    );
    if (r.created) created.push(l.diffId);
    progress.done(l.desc.digest, 'Pull complete');
  };
  /** Downloads a blob, checked, into a staging file (for a layer that must wait for its lowers). */
  const spool = async (l: Wanted, raw: Readable): Promise<string> => {
    const file = store.stagingPath('blob');
    const v = verified(raw, l.desc, l.what, progress);
    try {
      // opened here, not by the stream: a stream still opening when the download fails would create the file after its removal
      await pipelineAsync(v.stream, fs.createWriteStream('', { fd: fs.openSync(file, 'wx', 0o600) }));
      v.check();
      return file;
    } catch (e) {
      fs.rmSync(file, { force: true });
      throw storeError(e, store.root, `layer ${l.desc.digest}`);
    }
  };
  const fromFile = async (l: Wanted, file: string): Promise<void> => {
    try {
      await one(l, async () => fs.createReadStream(file));
    } finally {
      fs.rmSync(file, { force: true });
    }
  };

  if (source.streamLayers) {
    // an archive gives its entries in its own order: layers that come before their lowers wait in files
    const byDigest = new Map([...wanted.values()].map((l) => [l.desc.digest, l]));
    const waiting = new Map<string, string>();
    try {
      await source.streamLayers(
        [...byDigest.values()].map((l) => l.desc),
        async (desc, stream) => {
          const l = byDigest.get(desc.digest);
          if (!l || store.hasLayer(l.diffId)) return void stream.resume();
          progress.start(desc.digest, desc.size);
          if (lowersReady(l)) await one(l, async () => stream);
          else waiting.set(l.diffId, await spool(l, stream));
        },
      );
      for (const l of wanted.values()) {
        const file = waiting.get(l.diffId);
        if (file) {
          waiting.delete(l.diffId);
          await fromFile(l, file);
        }
      }
    } finally {
      for (const file of waiting.values()) fs.rmSync(file, { force: true });
    }
    for (const l of wanted.values()) {
      if (!store.hasLayer(l.diffId)) throw new TcrError(`${l.what}: layer blob ${l.desc.digest} is missing from ${source.description}`);
    }
    return;
  }

  // settles when a wanted layer is in the store, for the layers above it
  const ready = new Map<string, Promise<void>>();
  const settle = new Map<string, (e?: unknown) => void>();
  for (const d of wanted.keys()) {
    const p = new Promise<void>((res, rej) =>
      settle.set(d, (e) => (e === undefined ? res() : rej(e instanceof Error ? e : new Error(errorMessage(e))))),
    );
    p.catch(() => {}); // a failure is reported by its own worker
    ready.set(d, p);
  }
  const retrying = (layer: Wanted) => ({
    ...opts,
    onRetry: (e: unknown, wait: number, attempt: number) =>
      progress.note(
        `${layer.desc.digest.slice(7, 19)}: ${errorMessage(e)}; retrying in ${wait} ms (attempt ${attempt + 1} of ${opts.attempts ?? 4})`,
      ),
  });
  const queue = [...wanted.values()];
  const worker = async (): Promise<void> => {
    for (let l = queue.shift(); l; l = queue.shift()) {
      const layer = l;
      progress.start(layer.desc.digest, layer.desc.size);
      try {
        if (lowersReady(layer)) {
          await withRetries(() => one(layer, () => source.fetchBlob(layer.desc)), retrying(layer));
        } else {
          const file = await withRetries(async () => spool(layer, await source.fetchBlob(layer.desc)), retrying(layer));
          // lowers come earlier in the queue, so they are taken (or done) already: no deadlock
          await Promise.all(layer.lowers.map((d) => ready.get(d)).filter((p) => p !== undefined)).catch((e) => {
            fs.rmSync(file, { force: true });
            throw e;
          });
          await fromFile(layer, file);
        }
        settle.get(layer.diffId)!();
      } catch (e) {
        queue.length = 0;
        progress.done(layer.desc.digest, 'failed');
        settle.get(layer.diffId)!(e);
        throw e;
      }
    }
  };
  // first failure wins; the other workers stop after their current layer
  const workers = Array.from({ length: Math.max(1, opts.concurrency ?? 3) }, () => worker());
  const results = await Promise.allSettled(workers);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Fetches the layers of the prepared images and records them in the store,
 * all or nothing: on failure, the layers this import made are removed again.
 */
export async function importImages(
  store: ImageStore,
  source: ImageSource,
  images: PreparedImage[],
  opts: ImportOptions = {},
): Promise<StoredImage[]> {
  const created: string[] = [];
  const release = store.beginImport();
  try {
    await fetchLayers(store, source, images, opts, created);
    const out = images.map((img) =>
      store.addImage({ manifest: img.manifest, config: img.config, names: img.names, repoDigests: img.repoDigests }),
    );
    release();
    return out;
  } catch (e) {
    release();
    // our shared gc lock is gone, so discardLayers can take it exclusively (unless another import runs)
    store.discardLayers(created);
    throw e;
  } finally {
    (opts.progress ?? quietProgress).close();
  }
}
