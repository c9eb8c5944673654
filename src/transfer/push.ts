// `tcr push IMAGE[:TAG] [DEST]`: an image of the store to a registry, with
// the distribution API's upload protocol: a blob the registry has already
// (HEAD) is skipped; otherwise POST starts an upload, which is finished by
// one PUT with the whole blob, or, for blobs over the chunk size, PATCHes of
// chunks (Content-Range) and a closing PUT; the OCI manifest goes last, PUT
// under the tag with its media type. Layers are tars made again from the
// store (layer-tar.ts), pushed uncompressed, with the config naming them.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { out } from '../log.js';
import { sha256 } from '../image/digest.js';
import { formatRef, parseRegistryRef, type RegistryRef } from '../image/reference.js';
import { RegistryClient } from '../image/registry.js';
import type { ImageStore } from '../image/store.js';
import { MEDIA } from '../image/types.js';
import { exportImages } from './save.js';

/** Blobs larger than this go up in chunks of this size ($TCR_PUSH_CHUNK_SIZE, bytes; default 8 MiB). */
function chunkSize(env: NodeJS.ProcessEnv): number {
  const n = Number(env.TCR_PUSH_CHUNK_SIZE ?? 8 * 1024 * 1024);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new TcrError(`$TCR_PUSH_CHUNK_SIZE: ${JSON.stringify(env.TCR_PUSH_CHUNK_SIZE)} is not a byte count`);
  return n;
}

async function failure(res: Response, what: string): Promise<TcrError> {
  const text = await res.text().catch(() => '');
  let detail = text.trim().slice(0, 300);
  try {
    const errors = (JSON.parse(text) as { errors?: { code?: string; message?: string }[] }).errors ?? [];
    if (errors.length) detail = errors.map((e) => [e.code, e.message].filter(Boolean).join(': ')).join('; ');
  } catch {
    // not the registry's JSON error: its text as it is
  }
  const hint = res.status === 401 || res.status === 403 ? ' (tcr login to the registry first?)' : '';
  return new TcrError(`${what}: the registry answered ${res.status} ${res.statusText}${detail ? `: ${detail}` : ''}${hint}`);
}

class Uploader {
  constructor(
    private readonly client: RegistryClient,
    private readonly repo: string,
    private readonly chunk: number,
  ) {}

  async has(digest: string): Promise<boolean> {
    const res = await this.client.send(this.repo, `blobs/${digest}`, { method: 'HEAD' });
    await res.body?.cancel();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw await failure(res, `blob ${digest}`);
  }

  /** Uploads `size` bytes read by `read(offset, length)`. */
  async upload(digest: string, size: number, read: (offset: number, length: number) => Buffer): Promise<void> {
    const what = `blob ${digest}`;
    const started = await this.client.send(this.repo, 'blobs/uploads/', { method: 'POST', headers: { 'Content-Length': '0' } });
    if (started.status !== 202) throw await failure(started, `${what}: starting the upload`);
    await started.body?.cancel();
    let location = this.location(started, what);
    let offset = 0;
    if (size > this.chunk) {
      for (; offset < size;) {
        const body = read(offset, Math.min(this.chunk, size - offset));
        const res = await this.client.send(this.repo, location, {
          method: 'PATCH',
          headers: {
            'Content-Type': 'application/octet-stream',
            'Content-Range': `${offset}-${offset + body.length - 1}`,
            'Content-Length': String(body.length),
          },
          body,
        });
        if (res.status !== 202) throw await failure(res, `${what}: bytes ${offset}-${offset + body.length - 1}`);
        await res.body?.cancel();
        location = this.location(res, what);
        offset += body.length;
      }
    }
    const rest = offset < size ? read(offset, size - offset) : Buffer.alloc(0);
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const done = await this.client.send(this.repo, url.href, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(rest.length) },
      body: rest,
    });
    if (done.status !== 201) throw await failure(done, `${what}: finishing the upload`);
    await done.body?.cancel();
  }

  private location(res: Response, what: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new TcrError(`${what}: the registry gave no upload location`);
    return new URL(loc, this.client.base).href;
  }
}

/** The reference to push to: DEST, else the image's name; a tag is needed (latest by default). */
function destination(source: string, dest: string | undefined): RegistryRef {
  const { ref } = parseRegistryRef(dest ?? source);
  if (ref.digest) throw new TcrError(`${dest ?? source}: push to a tag, not a digest`);
  return { ...ref, tag: ref.tag ?? 'latest' };
}

export async function pushImage(
  store: ImageStore,
  source: string,
  dest?: string,
  o: { quiet?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const env = o.env ?? process.env;
  store.require(source);
  const ref = destination(source, dest);
  const say = (t: string) => o.quiet || out(t);
  const stage = store.stagingPath('push');
  fs.mkdirSync(stage, { mode: 0o700 });
  const release = store.beginImport();
  try {
    const [img] = await exportImages(store, [source], stage);
    const client = new RegistryClient(ref.registry, { env });
    const up = new Uploader(client, ref.repository, chunkSize(env));
    say(`The push refers to repository [${ref.registry}/${ref.repository}]\n`);
    for (const l of [...img.layers].reverse()) {
      if (await up.has(l.digest)) {
        say(`${l.digest.slice(7, 19)}: Layer already exists\n`);
        continue;
      }
      const fd = fs.openSync(l.file, 'r');
      try {
        await up.upload(l.digest, l.size, (offset, length) => {
          const b = Buffer.alloc(length);
          let got = 0;
          while (got < length) got += fs.readSync(fd, b, got, length - got, offset + got);
          return b;
        });
      } finally {
        fs.closeSync(fd);
      }
      say(`${l.digest.slice(7, 19)}: Pushed\n`);
    }
    if (!(await up.has(img.configDigest)))
      await up.upload(img.configDigest, img.config.length, (off, len) => img.config.subarray(off, off + len));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociManifest,
        config: { mediaType: MEDIA.ociConfig, digest: img.configDigest, size: img.config.length },
        layers: img.layers.map((l) => ({ mediaType: MEDIA.ociLayer, digest: l.digest, size: l.size })),
      }),
    );
    const digest = sha256(manifest);
    const res = await client.send(ref.repository, `manifests/${ref.tag}`, {
      method: 'PUT',
      headers: { 'Content-Type': MEDIA.ociManifest, 'Content-Length': String(manifest.length) },
      body: manifest,
    });
    if (res.status !== 201) throw await failure(res, `manifest of ${formatRef(ref)}`);
    await res.body?.cancel();
    say(`${ref.tag}: digest: ${digest} size: ${manifest.length}\n`);
    return digest;
  } finally {
    release();
    fs.rmSync(stage, { recursive: true, force: true });
  }
}
