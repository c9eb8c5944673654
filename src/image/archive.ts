// Image sources on disk: an OCI image layout directory (index.json,
// oci-layout, blobs/), an oci-archive (a tar of such a directory) and a
// docker-archive (`docker save`: manifest.json with Config, RepoTags and
// Layers, as <id>/layer.tar files or, since docker 25, blobs/sha256/HEX).
// Each becomes an ImageSource plus the images prepared from it; import.ts
// does the fetching, checking and storing.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { checkDigest, sha256, verifyBuffer } from './digest.js';
import { MAX_METADATA, prepareImage, resolveManifest, type ImageSource, type PreparedImage } from './import.js';
import { selectPlatform, type Platform } from './platform.js';
import { normalizeName, repoName, type RegistryRef } from './reference.js';
import { TarArchive, isGzip, isZstd } from './tar-archive.js';
import { MEDIA, type Descriptor, type ImageIndex } from './types.js';

export interface OpenOptions {
  /** oci: the ref.name of the image to take; docker-archive: one of its RepoTags */
  tag?: string;
  ref?: RegistryRef;
  /** take every image (tcr load) instead of requiring exactly one */
  all?: boolean;
  platform?: Platform;
}

export interface OpenedSource {
  source: ImageSource;
  images: PreparedImage[];
}

const REF_NAME = 'org.opencontainers.image.ref.name';
const CONTAINERD_NAME = 'io.containerd.image.name';

function parseJson<T>(data: Buffer, what: string): T {
  try {
    return JSON.parse(data.toString('utf8')) as T;
  } catch (e) {
    throw new TcrError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

/** localhost/NAME:TAG from a directory or file name, when that makes a valid name. */
function localName(file: string, tag = 'latest'): string | undefined {
  const base = path
    .basename(file)
    .replace(/\.(tar(\.gz)?|tgz|oci)$/, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  try {
    return normalizeName(`localhost/${base}:${tag}`);
  } catch {
    return undefined;
  }
}

/** The name an OCI layout entry gives its image, if any. */
function namesOf(desc: Descriptor, file: string): string[] {
  for (const n of [desc.annotations?.[CONTAINERD_NAME], desc.annotations?.[REF_NAME]]) {
    if (!n) continue;
    if (/[/:@]/.test(n)) {
      try {
        return [normalizeName(n)];
      } catch {
        // a ref.name that is no docker name: fall through to a local one
      }
    }
  }
  const local = localName(file, desc.annotations?.[REF_NAME]);
  return local ? [local] : [];
}

/** The images an OCI layout's index.json offers, chosen by tag and platform, prepared. */
async function layoutImages(
  source: ImageSource,
  readFile: (rel: string) => Buffer,
  file: string,
  opts: OpenOptions,
): Promise<PreparedImage[]> {
  const what = source.description;
  const layout = parseJson<{ imageLayoutVersion?: string }>(readFile('oci-layout'), `${what}: oci-layout`);
  if (typeof layout.imageLayoutVersion !== 'string' || !layout.imageLayoutVersion.startsWith('1.'))
    throw new TcrError(`${what}: oci-layout: imageLayoutVersion ${JSON.stringify(layout.imageLayoutVersion)} is not supported (1.x)`);
  const index = parseJson<ImageIndex>(readFile('index.json'), `${what}: index.json`);
  if (!Array.isArray(index.manifests) || index.manifests.length === 0) throw new TcrError(`${what}: index.json lists no images`);
  // entries with one ref.name are one image (several entries = several platforms of it)
  const groups = new Map<string, Descriptor[]>();
  for (const d of index.manifests) {
    const key = d?.annotations?.[REF_NAME] ?? '';
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const tags = [...groups.keys()].map((k) => k || '(untagged)').join(', ');
  let chosen: Descriptor[][];
  if (opts.tag !== undefined) {
    const g = groups.get(opts.tag);
    if (!g) throw new TcrError(`${what}: no image tagged ${JSON.stringify(opts.tag)}; it has: ${tags}`);
    chosen = [g];
  } else if (opts.all || groups.size === 1) {
    chosen = [...groups.values()];
  } else {
    throw new TcrError(`${what}: holds several images; name one with ${file}:TAG (tags: ${tags})`);
  }
  const out: PreparedImage[] = [];
  for (const g of chosen) {
    const desc =
      g.length === 1
        ? g[0]
        : selectPlatform({ schemaVersion: 2, manifests: g }, opts.platform ?? { os: 'linux', architecture: 'amd64' }, what);
    checkDigest(desc?.digest, `${what}: index.json entry`);
    const top = await source.fetchManifest(desc);
    verifyBuffer(top, desc, `${what}: manifest ${desc.digest}`);
    const m = await resolveManifest(source, top, what, opts.platform);
    out.push(await prepareImage(source, m.bytes, { names: namesOf(desc, file), what, platform: opts.platform }));
  }
  return out;
}

function blobRel(digest: string): string {
  return `blobs/sha256/${checkDigest(digest, 'blob').slice(7)}`;
}

/** An OCI image layout directory (`tcr import DIR`, `oci:DIR[:TAG]`). */
export async function openLayoutDir(dir: string, opts: OpenOptions = {}): Promise<OpenedSource> {
  const what = `OCI layout ${dir}`;
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new TcrError(`${what}: no such directory`);
  const file = (rel: string) => path.join(dir, rel);
  const readFile = (rel: string): Buffer => {
    try {
      const st = fs.statSync(file(rel));
      if (st.size > MAX_METADATA) throw new TcrError(`${what}: ${rel} is ${st.size} bytes, too large for a manifest or config; refused`);
      return fs.readFileSync(file(rel));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT')
        throw new TcrError(
          rel.startsWith('blobs/')
            ? `${what}: blob ${rel.slice(6).replace('/', ':')} is missing (${rel})`
            : `${what}: not an OCI image layout (no ${rel})`,
        );
      throw e;
    }
  };
  const source: ImageSource = {
    description: what,
    fetchManifest: async (desc) => readFile(blobRel(desc.digest)),
    fetchBlob: async (desc) => {
      const rel = blobRel(desc.digest);
      if (!fs.existsSync(file(rel))) throw new TcrError(`${what}: blob ${desc.digest} is missing (${rel})`);
      return fs.createReadStream(file(rel));
    },
  };
  return { source, images: await layoutImages(source, readFile, dir, opts) };
}

/** Layers of an archive: what is kept from the first pass at once, the rest in one second pass. */
function archiveLayers(archive: TarArchive, pathOf: (d: Descriptor) => string): ImageSource['streamLayers'] {
  return async (wanted, take) => {
    const rest = new Map<string, Descriptor>();
    for (const d of wanted) {
      const e = archive.resolve(pathOf(d));
      if (!e) throw new TcrError(`${archive.what}: layer blob ${d.digest} is missing from the archive (${pathOf(d)})`);
      const kept = archive.keptStream(e.name);
      if (kept) await take(d, kept);
      else rest.set(e.name, d);
    }
    if (rest.size) await archive.each(new Set(rest.keys()), (name, stream) => take(rest.get(name)!, stream));
  };
}

function ociArchiveSource(archive: TarArchive): ImageSource {
  const fetch = (desc: Descriptor): Buffer => {
    const rel = blobRel(desc.digest);
    if (!archive.has(rel)) throw new TcrError(`${archive.what}: blob ${desc.digest} is missing from the archive (${rel})`);
    return archive.read(rel);
  };
  return {
    description: archive.what,
    fetchManifest: async (desc) => fetch(desc),
    // only configs come this way (layers are streamed), and configs are small enough to be kept
    fetchBlob: async (desc) => {
      fetch(desc); // a clear error when missing or too big
      return archive.keptStream(blobRel(desc.digest))!;
    },
    streamLayers: archiveLayers(archive, (d) => blobRel(d.digest)),
  };
}

interface DockerManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

/** A docker-archive: one image per manifest.json entry, with a docker v2 manifest made for it. */
async function dockerArchiveImages(archive: TarArchive, opts: OpenOptions): Promise<OpenedSource> {
  const what = archive.what;
  const entries = parseJson<DockerManifestEntry[]>(archive.read('manifest.json'), `${what}: manifest.json`);
  if (!Array.isArray(entries) || entries.length === 0) throw new TcrError(`${what}: manifest.json lists no images`);
  const paths = new Map<string, string>();
  const source: ImageSource = {
    get description() {
      return archive.what;
    },
    fetchManifest: async () => {
      throw new TcrError(`${what}: a docker-archive has no manifests to fetch`);
    },
    fetchBlob: async (desc) => {
      const p = paths.get(desc.digest) ?? desc.digest;
      archive.read(p); // a clear error when missing or too big
      return archive.keptStream(p)!;
    },
    streamLayers: archiveLayers(archive, (d) => paths.get(d.digest) ?? d.digest),
  };
  const tagsOf = (e: DockerManifestEntry) => (e.RepoTags ?? []).map((t) => normalizeName(t));
  let chosen = entries;
  if (opts.ref) {
    const want = `${repoName(opts.ref)}:${opts.ref.tag ?? 'latest'}`;
    chosen = entries.filter((e) => tagsOf(e).includes(want));
    if (!chosen.length)
      throw new TcrError(`${what}: no image named ${want}; it has: ${entries.flatMap(tagsOf).join(', ') || '(untagged images)'}`);
  } else if (!opts.all && entries.length > 1) {
    throw new TcrError(
      `${what}: holds ${entries.length} images; name one with docker-archive:FILE:NAME (names: ${entries.flatMap(tagsOf).join(', ') || 'none'})`,
    );
  }
  const images: PreparedImage[] = [];
  for (const [i, e] of chosen.entries()) {
    const ew = `${what}: manifest.json[${i}]`;
    if (typeof e?.Config !== 'string' || !Array.isArray(e.Layers)) throw new TcrError(`${ew}: needs Config and Layers`);
    const config = archive.read(e.Config);
    // the config's file name is its digest (<hex>.json, or blobs/sha256/<hex>): check it
    const named = /([a-f0-9]{64})(\.json)?$/.exec(e.Config);
    if (named) verifyBuffer(config, { digest: `sha256:${named[1]}` }, `${ew}: config ${e.Config}`);
    const configDigest = sha256(config);
    paths.set(configDigest, e.Config);
    const diffIds = parseJson<{ rootfs?: { diff_ids?: string[] } }>(config, `${ew}: config`).rootfs?.diff_ids ?? [];
    const layers = e.Layers.map((p, j): Descriptor => {
      const info = archive.resolve(p);
      if (!info) throw new TcrError(`${ew}: layer ${p} is missing from the archive`);
      const blob = /^blobs\/sha256\/([a-f0-9]{64})$/.exec(info.name);
      const compressed = isGzip(info.magic) || isZstd(info.magic);
      // a plain tar's digest is its diffID; a compressed one was hashed on the first pass
      const digest = blob ? `sha256:${blob[1]}` : compressed ? info.digest! : diffIds[j];
      if (!digest) throw new TcrError(`${ew}: layer ${p} has no diff_id in the config`);
      paths.set(digest, info.name);
      const mediaType = isGzip(info.magic)
        ? MEDIA.dockerLayerGzip
        : isZstd(info.magic)
          ? MEDIA.ociLayerZstd
          : 'application/vnd.docker.image.rootfs.diff.tar';
      return { mediaType, digest, size: info.size };
    });
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.dockerManifest,
        config: { mediaType: MEDIA.dockerConfig, digest: configDigest, size: config.length },
        layers,
      }),
    );
    images.push(await prepareImage(source, manifest, { names: tagsOf(e), what, platform: opts.platform }));
  }
  return { source, images };
}

/**
 * A tarball from `docker save` or an oci-archive, told apart by content:
 * manifest.json means docker-archive (docker 25+ writes both; docker load
 * reads manifest.json too), else index.json + oci-layout means oci-archive.
 */
export async function openArchive(
  file: string,
  opts: OpenOptions & { format?: 'docker-archive' | 'oci-archive' } = {},
): Promise<OpenedSource & { format: 'docker-archive' | 'oci-archive' }> {
  if (!fs.statSync(file, { throwIfNoEntry: false })?.isFile()) throw new TcrError(`${file}: no such file`);
  const archive = await TarArchive.open(file, file);
  const format = opts.format ?? (archive.has('manifest.json') ? 'docker-archive' : archive.has('index.json') ? 'oci-archive' : undefined);
  if (!format) throw new TcrError(`${file}: neither a docker-archive (no manifest.json) nor an oci-archive (no index.json)`);
  archive.what = `${format} ${file}`;
  if (format === 'docker-archive') return { format, ...(await dockerArchiveImages(archive, opts)) };
  const source = ociArchiveSource(archive);
  return { format, source, images: await layoutImages(source, (rel) => archive.read(rel), file, opts) };
}
