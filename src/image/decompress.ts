// Layer decompression: gzip through ISA-L where it is installed (isal-inflate.ts), else node:zlib, zstd through libzstd, plain
// tar as is, and 'auto' by the stream's magic bytes. Every stage keeps
// backpressure, so a decompression bomb is decoded only as fast as the tar
// extractor consumes it and memory stays bounded.
import type { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { TcrError } from '../errors.js';
import { MEDIA } from './types.js';
import { isalAvailable, isalGunzip } from './isal-inflate.js';

export type Compression = 'gzip' | 'zstd' | 'none' | 'auto';

/** A pipeline stage: a Node stream or an async generator over the previous one. */
export type Stage = NodeJS.ReadWriteStream | ((source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer>);

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
// libzstd's ZSTD_DStreamOutSize() is 128 KiB; larger chunks mean fewer FFI calls
const ZSTD_OUT_CHUNK = 256 * 1024;

/** The compression a layer's media type names; 'auto' for media types that do not say. */
export function compressionOfMediaType(mediaType: string): Compression {
  if (mediaType === MEDIA.ociLayer || mediaType.endsWith('.tar')) return 'none';
  if (mediaType.endsWith('+gzip') || mediaType.endsWith('.gzip')) return 'gzip';
  if (mediaType.endsWith('+zstd') || mediaType.endsWith('.zstd')) return 'zstd';
  return 'auto';
}

/** What the first bytes of a layer blob say it is. */
export function detectCompression(head: Buffer): 'gzip' | 'zstd' | 'none' {
  if (head.subarray(0, 2).equals(GZIP_MAGIC)) return 'gzip';
  if (head.subarray(0, 4).equals(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/** Reads up to `n` bytes from the start of `input` and puts them back (unshift). */
export async function peek(input: Readable, n: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let have = 0;
  while (have < n) {
    const chunk = await nextChunk(input);
    if (chunk === null) break;
    parts.push(chunk);
    have += chunk.length;
  }
  const head = Buffer.concat(parts);
  if (head.length > 0) input.unshift(head);
  return head;
}

function nextChunk(input: Readable): Promise<Buffer | null> {
  const now = input.read() as Buffer | null;
  if (now !== null) return Promise.resolve(now);
  if (input.readableEnded) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const done = (): void => {
      input.off('readable', onReadable);
      input.off('end', onEnd);
      input.off('error', onError);
    };
    const onReadable = (): void => {
      const c = input.read() as Buffer | null;
      if (c !== null) {
        done();
        resolve(c);
      }
    };
    const onEnd = (): void => {
      done();
      resolve(null);
    };
    const onError = (e: Error): void => {
      done();
      reject(e);
    };
    input.on('readable', onReadable);
    input.once('end', onEnd);
    input.once('error', onError);
  });
}

/** The stage that decompresses `kind`, or null for a plain tar. */
export function decompressor(kind: 'gzip' | 'zstd' | 'none'): Stage | null {
  if (kind === 'gzip' && isalAvailable()) return isalGunzip;
  // A deep output buffer lets zlib (on libuv's thread pool) inflate ahead
  // while the main thread writes files; with the default 16 KiB each chunk
  // would wait for the writer, and the two would take turns instead.
  if (kind === 'gzip') return zlib.createGunzip({ chunkSize: 512 * 1024, readableHighWaterMark: 4 << 20 } as zlib.ZlibOptions);
  if (kind === 'zstd') return zstdStage;
  return null;
}

/** zstd frames (one or several, as `zstd -T` writes them) to plain bytes. */
async function* zstdStage(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // loaded here so gzip-only hosts never need libzstd
  const { ZstdDecoder } = await import('../sys/libzstd.js');
  const dec = new ZstdDecoder();
  let hint = 0;
  let sawInput = false;
  try {
    for await (const chunk of source) {
      if (chunk.length === 0) continue;
      sawInput = true;
      let pos = 0;
      for (;;) {
        const out = Buffer.allocUnsafe(ZSTD_OUT_CHUNK);
        const r = dec.step(out, chunk, pos);
        pos = r.srcPos;
        hint = r.hint;
        // a generator yields one chunk at a time: the consumer's pace bounds memory
        if (r.written > 0) yield out.subarray(0, r.written);
        // done with this input once it is consumed and the output was not full
        if (pos >= chunk.length && r.written < out.length) break;
      }
    }
    if (sawInput && hint !== 0) throw new TcrError('truncated zstd stream: the last frame is incomplete');
  } finally {
    dec.free();
  }
}
