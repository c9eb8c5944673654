// Images made in the tests themselves: tar layers (tar-stream pack), configs,
// manifests, indexes, OCI layout directories, oci-archives and
// docker-archives, so every test knows exactly what an image holds.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { MEDIA } from '../src/image/types.js';
import type { UnpackFn } from '../src/image/store.js';
import { unpackLayer } from '../src/image/unpack.js';

export interface FileSpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  content?: string;
  linkname?: string;
  mode?: number;
}

export const sha = (b: Buffer | string): string => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

export async function tarOf(files: FileSpec[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const f of files) {
    const type = f.type ?? 'file';
    const header = {
      name: f.name,
      type,
      linkname: f.linkname,
      mode: f.mode ?? (type === 'directory' ? 0o755 : 0o644),
      mtime: new Date(1_700_000_000_000),
    };
    if (type === 'file') pack.entry(header, f.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface BuiltLayer {
  blob: Buffer;
  digest: string;
  diffId: string;
  mediaType: string;
}

export interface BuiltImage {
  manifest: Buffer;
  manifestDigest: string;
  config: Buffer;
  configDigest: string;
  layers: BuiltLayer[];
  /** every blob by digest: config, layers, manifest */
  blobs: Map<string, Buffer>;
}

/**
 * A layer: files to make a tar of, the bytes of a tar (compressed as
 * BuildOptions.compress says), or a blob given whole with its diffID (a
 * stream no tar writer makes: a bomb, a lie).
 */
export type LayerSpec = FileSpec[] | Buffer | { blob: Buffer; diffId: string; mediaType: string };

/** The layers of an OCI layout's first image (the demo busybox one, say), as layers of other test images. */
export function layoutLayers(dir: string): LayerSpec[] {
  const blob = (d: string) => fs.readFileSync(path.join(dir, 'blobs', 'sha256', d.slice(7)));
  const index = JSON.parse(fs.readFileSync(path.join(dir, 'index.json'), 'utf8')) as { manifests: { digest: string }[] };
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString()) as {
    config: { digest: string };
    layers: { digest: string; mediaType: string }[];
  };
  const config = JSON.parse(blob(manifest.config.digest).toString()) as { rootfs: { diff_ids: string[] } };
  return manifest.layers.map((l, i) => ({ blob: blob(l.digest), diffId: config.rootfs.diff_ids[i], mediaType: l.mediaType }));
}

export interface BuildOptions {
  layers: LayerSpec[];
  compress?: 'gzip' | 'none';
  architecture?: string;
  /** docker v2 schema 2 media types instead of OCI */
  docker?: boolean;
  editConfig?: (c: Record<string, unknown>) => void;
  editManifest?: (m: Record<string, unknown>) => void;
}

export async function buildImage(o: BuildOptions): Promise<BuiltImage> {
  const layers: BuiltLayer[] = [];
  for (const spec of o.layers) {
    if (!Array.isArray(spec) && !Buffer.isBuffer(spec)) {
      layers.push({ ...spec, digest: sha(spec.blob) });
      continue;
    }
    const plain = Buffer.isBuffer(spec) ? spec : await tarOf(spec);
    const gz = o.compress !== 'none';
    const blob = gz ? zlib.gzipSync(plain) : plain;
    const mediaType = o.docker
      ? gz
        ? MEDIA.dockerLayerGzip
        : 'application/vnd.docker.image.rootfs.diff.tar'
      : gz
        ? MEDIA.ociLayerGzip
        : MEDIA.ociLayer;
    layers.push({ blob, digest: sha(blob), diffId: sha(plain), mediaType });
  }
  const configDoc: Record<string, unknown> = {
    created: '2024-01-02T03:04:05Z',
    architecture: o.architecture ?? 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  };
  o.editConfig?.(configDoc);
  const config = Buffer.from(JSON.stringify(configDoc));
  const manifestDoc: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: o.docker ? MEDIA.dockerManifest : MEDIA.ociManifest,
    config: { mediaType: o.docker ? MEDIA.dockerConfig : MEDIA.ociConfig, digest: sha(config), size: config.length },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
  };
  o.editManifest?.(manifestDoc);
  const manifest = Buffer.from(JSON.stringify(manifestDoc));
  const blobs = new Map<string, Buffer>([
    [sha(config), config],
    [sha(manifest), manifest],
  ]);
  for (const l of layers) blobs.set(l.digest, l.blob);
  return { manifest, manifestDigest: sha(manifest), config, configDigest: sha(config), layers, blobs };
}

/** An image index over several images, each with its platform. */
export function buildIndex(entries: { img: BuiltImage; architecture: string; variant?: string }[]): { bytes: Buffer; digest: string } {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: entries.map((e) => ({
        mediaType: MEDIA.ociManifest,
        digest: e.img.manifestDigest,
        size: e.img.manifest.length,
        platform: { os: 'linux', architecture: e.architecture, variant: e.variant },
      })),
    }),
  );
  return { bytes, digest: sha(bytes) };
}

export interface LayoutEntry {
  /** an image, or an index (whose images are passed in `images`) */
  img?: BuiltImage;
  index?: { bytes: Buffer; digest: string };
  images?: BuiltImage[];
  refName?: string;
}

/** Writes an OCI image layout directory. */
export function writeLayout(dir: string, entries: LayoutEntry[]): void {
  fs.mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const put = (digest: string, data: Buffer) => fs.writeFileSync(path.join(dir, 'blobs', 'sha256', digest.slice(7)), data);
  const manifests = [];
  for (const e of entries) {
    for (const img of [...(e.img ? [e.img] : []), ...(e.images ?? [])]) for (const [d, b] of img.blobs) put(d, b);
    const annotations = e.refName ? { 'org.opencontainers.image.ref.name': e.refName } : undefined;
    if (e.index) {
      put(e.index.digest, e.index.bytes);
      manifests.push({ mediaType: MEDIA.ociIndex, digest: e.index.digest, size: e.index.bytes.length, annotations });
    } else if (e.img) {
      manifests.push({ mediaType: MEDIA.ociManifest, digest: e.img.manifestDigest, size: e.img.manifest.length, annotations });
    }
  }
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociIndex, manifests }));
}

/** A tar of a directory's files (an oci-archive of a layout), made with tar-stream. */
export async function tarDirectory(dir: string, file: string, opts: { gzip?: boolean } = {}): Promise<void> {
  const entries: TarItem[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      if (fs.statSync(path.join(dir, r)).isDirectory()) {
        entries.push({ name: r, type: 'directory' });
        walk(r);
      } else entries.push({ name: r, data: fs.readFileSync(path.join(dir, r)) });
    }
  };
  walk('');
  await writeTar(file, entries, opts);
}

export interface TarItem {
  name: string;
  data?: Buffer;
  type?: 'directory' | 'symlink';
  linkname?: string;
}

/** Writes a tar of (name, data | symlink) entries, gzipped if asked. */
export async function writeTar(file: string, entries: TarItem[], opts: { gzip?: boolean } = {}): Promise<void> {
  const pack = tar.pack();
  for (const e of entries) {
    const header = { name: e.name, type: e.type ?? 'file', linkname: e.linkname, mode: e.type === 'directory' ? 0o755 : 0o644 } as const;
    if (e.data) pack.entry(header, e.data);
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  const all = Buffer.concat(chunks);
  fs.writeFileSync(file, opts.gzip ? zlib.gzipSync(all) : all);
}

/**
 * A `docker save` tarball. legacy: <id>/layer.tar files and <hex>.json
 * configs (docker < 25), with a symlinked duplicate layer as docker writes;
 * blobs: blobs/sha256/HEX (docker 25+). Layers must be uncompressed, as docker writes them.
 */
export async function writeDockerArchive(
  file: string,
  images: { img: BuiltImage; repoTags: string[] }[],
  format: 'legacy' | 'blobs' = 'legacy',
  opts: { gzip?: boolean; dropLayer?: boolean } = {},
): Promise<void> {
  const entries: TarItem[] = [];
  const manifest = [];
  const seen = new Map<string, string>();
  for (const { img, repoTags } of images) {
    const configName = format === 'legacy' ? `${img.configDigest.slice(7)}.json` : `blobs/sha256/${img.configDigest.slice(7)}`;
    entries.push({ name: configName, data: img.config });
    const layers: string[] = [];
    for (const [i, l] of img.layers.entries()) {
      const id = crypto.createHash('sha256').update(`${l.diffId}${i}${img.configDigest}`).digest('hex');
      const name = format === 'legacy' ? `${id}/layer.tar` : `blobs/sha256/${l.digest.slice(7)}`;
      layers.push(name);
      if (opts.dropLayer) continue;
      const prev = seen.get(l.digest);
      if (prev && format === 'legacy') {
        entries.push({ name: `${id}/`, type: 'directory' }, { name, type: 'symlink', linkname: `../${prev}` });
      } else if (!prev) {
        if (format === 'legacy') entries.push({ name: `${id}/`, type: 'directory' });
        entries.push({ name, data: l.blob });
        seen.set(l.digest, name);
      }
    }
    manifest.push({ Config: configName, RepoTags: repoTags, Layers: layers });
  }
  entries.push({ name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) });
  await writeTar(file, entries, opts);
}

/**
 * The unpacker for store tests: the real one, behind a check that every
 * lower layer is in place when a layer is unpacked (hard links into lower
 * layers need them), so the import's ordering is tested too.
 */
export const testUnpack: UnpackFn = async (input, dir, opts) => {
  for (const d of opts.lowerDirs ?? []) if (!fs.existsSync(d)) throw new Error(`test: layer unpacked before its lower layer ${d}`);
  return unpackLayer(input, dir, opts);
};

/** Every file below dir (relative), for "nothing left behind" checks. */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of fs.readdirSync(path.join(dir, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      out.push(r);
      if (fs.lstatSync(path.join(dir, r)).isDirectory()) walk(r);
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out.sort();
}
