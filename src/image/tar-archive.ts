// Reading an image tarball (oci-archive, docker-archive) without unpacking
// it to disk: a first pass with tar-stream keeps the small files (index.json,
// manifests, configs) in memory and notes every entry; a second pass streams
// only the layers still wanted, in the archive's order. A gzip-compressed
// archive (`docker save | gzip`) is read the same way, through gunzip.
// Nothing is ever written by an entry's name, so hostile names are harmless.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { TcrError, errorMessage, errnoCode } from '../errors.js';

/** Files up to this size are kept from the first pass… */
const KEEP_FILE = 4 * 1024 * 1024;
/** …as long as they add up to no more than this. */
const KEEP_TOTAL = 64 * 1024 * 1024;

export interface TarEntryInfo {
  name: string;
  type: string;
  size: number;
  linkname?: string;
  /** first bytes of a regular file: tells a compressed layer from a plain tar */
  magic?: Buffer;
  /** sha256 of a compressed file not named by its digest (old docker-archive layers), from the first pass */
  digest?: string;
}

export function isGzip(b: Buffer | undefined): boolean {
  return !!b && b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}
export function isZstd(b: Buffer | undefined): boolean {
  return !!b && b.length >= 4 && b.readUInt32LE(0) === 0xfd2fb528;
}

/** An archive member name as a plain relative path ("./a//b" → "a/b"). */
export function cleanName(name: string): string {
  const n = path.posix.normalize('/' + name).slice(1);
  return n.replace(/\/$/, '');
}

/** Carries an error of an entry's consumer through the pass unchanged. */
class ConsumerError extends Error {
  constructor(readonly error: unknown) {
    super('the consumer of a tar entry failed');
  }
}

export class TarArchive {
  readonly entries = new Map<string, TarEntryInfo>();
  private kept = new Map<string, Buffer>();

  /** `what` names the archive in messages */
  private constructor(
    readonly file: string,
    public what: string,
  ) {}

  /** Opens the archive and makes the first pass. */
  static async open(file: string, what: string): Promise<TarArchive> {
    const a = new TarArchive(file, what);
    let total = 0;
    await a.walk(async (info, entry) => {
      a.entries.set(info.name, info);
      if (info.type !== 'file') return entry.resume();
      const hashIt = !/^blobs\/sha256\/[a-f0-9]{64}$/.test(info.name);
      const keep = info.size <= KEEP_FILE && total + info.size <= KEEP_TOTAL;
      const chunks: Buffer[] = [];
      let hash: crypto.Hash | undefined;
      try {
        for await (const chunk of entry as AsyncIterable<Buffer>) {
          if (!info.magic) {
            info.magic = Buffer.from(chunk.subarray(0, 8));
            if (hashIt && (isGzip(info.magic) || isZstd(info.magic))) hash = crypto.createHash('sha256');
          }
          hash?.update(chunk);
          if (keep) chunks.push(chunk);
        }
      } catch (e) {
        throw a.damaged(info.name, e);
      }
      if (hash) info.digest = 'sha256:' + hash.digest('hex');
      if (keep) {
        a.kept.set(info.name, Buffer.concat(chunks));
        total += info.size;
      }
    });
    return a;
  }

  /** The regular file a name leads to, following symlinks and hard links inside the archive. */
  resolve(name: string): TarEntryInfo | undefined {
    let n = cleanName(name);
    for (let hops = 0; hops < 16; hops++) {
      const e = this.entries.get(n);
      if (!e) return undefined;
      if (e.type === 'file') return e;
      if (e.type === 'symlink' && e.linkname !== undefined) n = cleanName(path.posix.join(path.posix.dirname(n), e.linkname));
      else if (e.type === 'link' && e.linkname !== undefined) n = cleanName(e.linkname);
      else return undefined;
    }
    return undefined;
  }

  /** A small file's content from the first pass; a clear error if absent or too big to keep. */
  read(name: string): Buffer {
    const e = this.resolve(name);
    if (!e) throw new TcrError(`${this.what}: ${name} is missing from the archive`);
    const data = this.kept.get(e.name);
    if (!data) throw new TcrError(`${this.what}: ${name} is ${e.size} bytes, too large for a manifest or config; refused`);
    return data;
  }

  has(name: string): boolean {
    return !!this.resolve(name);
  }

  /** A kept file as a stream (small layers need no second pass). */
  keptStream(name: string): Readable | undefined {
    const e = this.resolve(name);
    const data = e && this.kept.get(e.name);
    return data ? Readable.from([data]) : undefined;
  }

  /** Second pass: streams each wanted regular file (by resolved name) to `take`, in archive order. */
  async each(want: Set<string>, take: (name: string, stream: Readable) => Promise<void>): Promise<void> {
    await this.walk(async (info, entry) => {
      if (info.type !== 'file' || !want.has(info.name)) return entry.resume();
      // a Node stream over tar-stream's entry, so the digest check and unpacker can pipe it
      const s = Readable.from(entry as AsyncIterable<Buffer>, { objectMode: false });
      let broken: unknown;
      s.once('error', (e) => (broken ??= e));
      try {
        await take(info.name, s);
      } catch (e) {
        // the archive's fault (cut short, bad gzip) is said as such, whatever the consumer made of it
        throw broken !== undefined ? this.damaged(info.name, broken) : e;
      }
      if (!s.readableEnded) {
        s.resume();
        await new Promise<void>((res, rej) => s.once('end', res).once('error', rej).once('close', res));
      }
    });
  }

  damaged(name: string, e: unknown): TcrError {
    return new TcrError(`${this.what}: ${name}: the archive is damaged or cut short (${errorMessage(e)})`);
  }

  /** One pass over the archive: `fn` must consume (or resume) each entry before the next. */
  private async walk(fn: (info: TarEntryInfo, entry: NodeJS.ReadableStream & { resume(): unknown }) => Promise<unknown>): Promise<void> {
    const { default: tar } = await import('tar-stream');
    let head: Buffer;
    try {
      const fd = fs.openSync(this.file, 'r');
      head = Buffer.alloc(4);
      fs.readSync(fd, head, 0, 4, 0);
      fs.closeSync(fd);
    } catch (e) {
      throw new TcrError(`${this.what}: cannot read ${this.file}: ${errnoCode(e) ?? errorMessage(e)}`);
    }
    if (isZstd(head)) throw new TcrError(`${this.what}: zstd-compressed archives are not supported; decompress it first`);
    const file = fs.createReadStream(this.file);
    const extract = tar.extract();
    const fail = (e: Error) => extract.destroy(e);
    file.on('error', fail);
    if (isGzip(head)) {
      const gunzip = zlib.createGunzip();
      gunzip.on('error', fail);
      file.pipe(gunzip).pipe(extract);
    } else {
      file.pipe(extract);
    }
    try {
      for await (const entry of extract) {
        const h = entry.header;
        const info: TarEntryInfo = {
          name: cleanName(h.name),
          type: h.type ?? 'file',
          size: h.size ?? 0,
          linkname: h.linkname ?? undefined,
        };
        if (info.type === 'contiguous-file') info.type = 'file';
        try {
          await fn(info, entry as unknown as NodeJS.ReadableStream & { resume(): unknown });
        } catch (e) {
          throw new ConsumerError(e); // the consumer's own error, not the archive's
        }
      }
    } catch (e) {
      if (e instanceof ConsumerError) throw e.error;
      if (e instanceof TcrError) throw e;
      throw new TcrError(`${this.what}: not a readable tar archive (${errorMessage(e)})`);
    } finally {
      file.destroy();
    }
  }
}
