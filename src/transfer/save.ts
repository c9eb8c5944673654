// `tcr save [-o FILE] [--format docker-archive|oci-archive] IMAGE...`.
// docker-archive is `docker save`'s layout: manifest.json (Config,
// RepoTags, Layers), repositories, <config hex>.json and <layer>/layer.tar,
// which docker load, podman load and tcr load read. oci-archive is a tar of
// an OCI image layout (oci-layout, index.json naming each image by
// org.opencontainers.image.ref.name, blobs/sha256/), as skopeo and podman
// write it. Layers are made tars again from the store (layer-tar.ts): their
// digests are new, so each image's config is written with them as its
// rootfs.diff_ids, and the loaded image has a new id (its names, history
// and settings are the same).
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TcrError } from '../errors.js';
import { sha256 } from '../image/digest.js';
import { normalizeName } from '../image/reference.js';
import type { ImageStore } from '../image/store.js';
import { MEDIA, type StoredImage } from '../image/types.js';
import { writeLayerTar, type LayerTar } from './layer-tar.js';
import { writeArchive } from './tar-output.js';

export type ArchiveFormat = 'docker-archive' | 'oci-archive';

type Item = { name: string; data: Buffer } | { name: string; file: string; size: number };

/** An image as it goes into an archive: its config with the new diff_ids, its layer tars, the names asked for. */
export interface ExportedImage {
  config: Buffer;
  configDigest: string;
  layers: LayerTar[];
  names: string[];
  platform: { os: string; architecture: string; variant?: string };
}

/** The images asked for, each once, with the names by which they were asked (none when asked by id). */
function chosenImages(store: ImageStore, refs: string[]): { img: StoredImage; names: string[] }[] {
  const byId = new Map<string, { img: StoredImage; names: string[] }>();
  for (const ref of refs) {
    const img = store.require(ref);
    let name: string | undefined;
    try {
      name = normalizeName(ref);
    } catch {
      // an id: no name
    }
    const entry = byId.get(img.configDigest) ?? { img, names: [] };
    if (name && img.names.includes(name) && !entry.names.includes(name)) entry.names.push(name);
    byId.set(img.configDigest, entry);
  }
  return [...byId.values()];
}

/** Layer tars (made once per layer) and rewritten configs for the images, in `stage`. */
export async function exportImages(store: ImageStore, refs: string[], stage: string): Promise<ExportedImage[]> {
  const tars = new Map<string, LayerTar>();
  const out: ExportedImage[] = [];
  for (const { img, names } of chosenImages(store, refs)) {
    const layers: LayerTar[] = [];
    for (const [i, dir] of store.layerDirs(img).entries()) {
      const diffId = img.diffIds[i];
      let t = tars.get(diffId);
      if (!t) {
        t = await writeLayerTar(dir, path.join(stage, `layer-${tars.size}.tar`));
        tars.set(diffId, t);
      }
      layers.push(t);
    }
    const cfg = store.config(img);
    const config = Buffer.from(JSON.stringify({ ...cfg, rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) } }));
    const platform = {
      os: cfg.os,
      architecture: cfg.architecture,
      ...((cfg as { variant?: string }).variant ? { variant: (cfg as { variant?: string }).variant } : {}),
    };
    out.push({ config, configDigest: sha256(config), layers, names, platform });
  }
  return out;
}

function dockerArchive(images: ExportedImage[]): Item[] {
  const items: Item[] = [];
  const seen = new Set<string>();
  const repositories: Record<string, Record<string, string>> = {};
  const manifest = images.map((im) => {
    const configName = `${im.configDigest.slice(7)}.json`;
    items.push({ name: configName, data: im.config });
    const layerNames = im.layers.map((l) => {
      const name = `${l.digest.slice(7)}/layer.tar`;
      if (!seen.has(name)) {
        seen.add(name);
        items.push({ name, file: l.file, size: l.size });
      }
      return name;
    });
    // full names: docker load shortens them itself, podman load would take a short one for localhost/'s
    const tags = im.names;
    const top = im.layers.at(-1)?.digest.slice(7);
    for (const t of tags) {
      const colon = t.lastIndexOf(':');
      if (top) (repositories[t.slice(0, colon)] ??= {})[t.slice(colon + 1)] = top;
    }
    return { Config: configName, RepoTags: tags.length ? tags : null, Layers: layerNames };
  });
  items.push({ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) });
  if (Object.keys(repositories).length) items.push({ name: 'repositories', data: Buffer.from(JSON.stringify(repositories)) });
  return items;
}

function ociArchive(images: ExportedImage[]): Item[] {
  const items: Item[] = [{ name: 'oci-layout', data: Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })) }];
  const blobs = new Set<string>();
  const blob = (digest: string, item: Omit<Item, 'name'>) => {
    if (blobs.has(digest)) return;
    blobs.add(digest);
    items.push({ name: `blobs/sha256/${digest.slice(7)}`, ...item } as Item);
  };
  const manifests = [];
  for (const im of images) {
    for (const l of im.layers) blob(l.digest, { file: l.file, size: l.size });
    blob(im.configDigest, { data: im.config });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: im.configDigest, size: im.config.length },
        layers: im.layers.map((l) => ({ mediaType: MEDIA.ociLayer, digest: l.digest, size: l.size })),
      }),
    );
    const digest = sha256(manifest);
    blob(digest, { data: manifest });
    const desc = { mediaType: MEDIA.ociManifest, digest, size: manifest.length, platform: im.platform };
    if (!im.names.length) manifests.push(desc);
    for (const n of im.names)
      manifests.push({ ...desc, annotations: { 'io.containerd.image.name': n, 'org.opencontainers.image.ref.name': n } });
  }
  items.push({ name: 'index.json', data: Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests })) });
  return items;
}

function packItems(items: Item[]): Readable {
  const pack = tar.pack();
  const header = (name: string, size: number) => ({ name, size, mode: 0o644, mtime: new Date(0), type: 'file' as const });
  void (async () => {
    for (const it of items) {
      if ('data' in it) {
        await new Promise<void>((res, rej) => pack.entry(header(it.name, it.data.length), it.data, (e) => (e ? rej(e) : res())));
        continue;
      }
      const sink = pack.entry(header(it.name, it.size));
      const src = fs.createReadStream(it.file);
      await new Promise<void>((res, rej) => {
        src.on('error', rej);
        sink.on('error', rej);
        sink.on('finish', res);
        src.pipe(sink);
      });
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e as Error));
  return pack as unknown as Readable;
}

export async function saveImages(store: ImageStore, refs: string[], o: { output?: string; format?: ArchiveFormat }): Promise<void> {
  const format = o.format ?? 'docker-archive';
  if (format !== 'docker-archive' && format !== 'oci-archive')
    throw new TcrError(`--format: ${JSON.stringify(format)} is not an archive format (docker-archive or oci-archive)`);
  const images = chosenImagesOrFail(store, refs);
  const stage = store.stagingPath('save');
  fs.mkdirSync(stage, { mode: 0o700 });
  const release = store.beginImport(); // the layers stay while they are read
  try {
    const exported = await exportImages(store, images, stage);
    const items = format === 'docker-archive' ? dockerArchive(exported) : ociArchive(exported);
    await writeArchive(o.output, 'save', () => packItems(items));
  } finally {
    release();
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

/** Every name checked before anything is written: one missing image fails the whole save, as in docker. */
function chosenImagesOrFail(store: ImageStore, refs: string[]): string[] {
  if (!refs.length) throw new TcrError('tcr save: name at least one image');
  for (const r of refs) store.require(r);
  return refs;
}
