// gzip layers inflated by Intel's ISA-L (native/inflate.cc, on libuv's thread
// pool as node:zlib is), where libisal.so.2 is installed: it inflates a layer
// about twice as fast as zlib, and the unpacker's main thread, which writes
// the files, waits less on it. The stream is read as node:zlib's gunzip reads
// one, so the two give the same bytes and the same failures (the codes
// unpack.ts words): members one after another; zero bytes after a member are
// padding and end the stream; anything else there must be another member;
// the end of the input inside a member is a truncated stream.
import { native } from '../sys/native.js';

// the output of one step, as zlib's chunkSize in decompress.ts: a deep output lets the inflater run ahead
const OUT_CHUNK = 512 * 1024;
// a step gets a fresh buffer when less than this is left of the last one
const MIN_ROOM = 64 * 1024;

// isal_inflate's failures (isa-l/igzip_lib.h), in zlib's words
const FAILURES: Record<number, string> = {
  [-1]: 'invalid deflate block',
  [-2]: 'invalid code in a deflate block',
  [-3]: 'invalid distance too far back',
  [-4]: 'incorrect header check',
  [-5]: 'unknown compression method',
  [-6]: 'incorrect data check',
};

let loadable: boolean | undefined;

/** Whether this host can inflate with ISA-L; TCR_INFLATE=zlib keeps node:zlib (to compare the two). */
export function isalAvailable(): boolean {
  if (process.env.TCR_INFLATE === 'zlib') return false;
  if (loadable === undefined) {
    try {
      loadable = native().isalAvailable();
    } catch {
      loadable = false;
    }
  }
  return loadable;
}

function zlibError(code: 'Z_BUF_ERROR' | 'Z_DATA_ERROR', message: string): Error {
  return Object.assign(new Error(message), { code });
}

// how far the inflater may run ahead of the consumer, as zlib's readableHighWaterMark in decompress.ts
const AHEAD = 4 << 20;

/**
 * A pipeline stage: the gzip stream `source` as plain bytes. The inflater
 * runs up to AHEAD bytes ahead of the consumer, so the two overlap as with
 * zlib's stream, and no further: a decompression bomb is decoded only as fast
 * as it is consumed.
 */
export async function* isalGunzip(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let queued = 0;
  let finished = false;
  let failure: Error | undefined;
  let stopped = false;
  // the side that waits (the consumer for output, the producer for room) leaves its wake-up here
  let wake: (() => void) | undefined;
  const signal = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const waitForSignal = (): Promise<void> => new Promise((resolve) => (wake = resolve));

  const produce = async (): Promise<void> => {
    try {
      for await (const out of inflate(source)) {
        if (stopped) return;
        queue.push(out);
        queued += out.length;
        signal();
        while (queued >= AHEAD && !stopped) await waitForSignal();
      }
    } catch (e) {
      failure = e instanceof Error ? e : new Error(String(e));
    } finally {
      finished = true;
      signal();
    }
  };
  const producer = produce();
  try {
    for (;;) {
      const next = queue.shift();
      if (next) {
        queued -= next.length;
        signal();
        yield next;
        continue;
      }
      if (finished) break;
      await waitForSignal();
    }
    if (failure !== undefined) throw failure;
  } finally {
    // the consumer stopped early (a failed entry) or the stream is done: the producer ends too
    stopped = true;
    signal();
    await producer;
  }
}

/** The inflation itself, one output chunk per isal_inflate call. */
async function* inflate(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const n = native();
  const state = n.isalInflateNew();
  // where the stream is: in a member (or before the first), after a member, or ended by padding
  let at: 'member' | 'between' | 'ended' = 'member';
  let out = Buffer.alloc(0);
  let used = 0;
  for await (const chunk of source) {
    let off = 0;
    let full = false;
    while (at !== 'ended' && (off < chunk.length || full)) {
      if (at === 'between') {
        if (chunk[off] === 0) {
          at = 'ended';
          break;
        }
        n.isalInflateReset(state);
        at = 'member';
      }
      // each step writes into the unused tail of the last one's buffer: a chunk yielded is never written again
      if (out.length - used < MIN_ROOM) {
        out = Buffer.allocUnsafe(OUT_CHUNK);
        used = 0;
      }
      const room = out.subarray(used);
      const r = await n.isalInflateStep(state, chunk, off, room);
      if (r.status < 0) throw zlibError('Z_DATA_ERROR', FAILURES[r.status] ?? `ISA-L inflate error ${r.status}`);
      off += r.read;
      full = r.written === room.length;
      if (r.written > 0) yield room.subarray(0, r.written);
      used += r.written;
      if (r.finished && !full) at = 'between';
      else if (r.read === 0 && r.written === 0) {
        if (off < chunk.length) throw zlibError('Z_DATA_ERROR', 'the inflater made no progress on its input');
        break; // all of this chunk is in, and its output out: the next chunk
      }
    }
  }
  if (at === 'member') throw zlibError('Z_BUF_ERROR', 'unexpected end of file');
}
