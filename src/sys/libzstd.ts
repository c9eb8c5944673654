// libzstd through koffi, for zstd-compressed image layers (Node 20's zlib has
// no zstd). Why the system library and not an npm package: libzstd1 is on
// every Debian (dpkg depends on it), it decodes at native speed, and it
// refuses frames whose window exceeds 128 MiB (ZSTD_WINDOWLOG_LIMIT_DEFAULT),
// so a hostile layer cannot make it allocate gigabytes. The pure-JS decoder
// we tried (fzstd 0.1.1) was much slower than the zstd CLI, worst on
// long-window frames (it moves its whole window per block), and would
// allocate whatever window a frame header asks for (up to 2 GiB); the native
// npm bindings fetch prebuilt binaries at install time, which a machine with
// only the npm registry cannot do.
import koffi from 'koffi';
import { TcrError } from '../errors.js';

const lib = (() => {
  try {
    return koffi.load('libzstd.so.1');
  } catch (e) {
    throw new TcrError(`zstd-compressed layers need libzstd (libzstd.so.1, Debian package libzstd1): ${(e as Error).message}`);
  }
})();

const createDCtx = lib.func('void *ZSTD_createDCtx()');
const freeDCtx = lib.func('size_t ZSTD_freeDCtx(void *dctx)');
const decompressStep = lib.func(
  'size_t ZSTD_decompressStream_simpleArgs(void *dctx, void *dst, size_t dstCapacity, _Inout_ size_t *dstPos, const void *src, size_t srcSize, _Inout_ size_t *srcPos)',
);
const compressC = lib.func('size_t ZSTD_compress(void *dst, size_t dstCapacity, const void *src, size_t srcSize, int level)');
const compressBound = lib.func('size_t ZSTD_compressBound(size_t srcSize)');
const isErrorC = lib.func('uint ZSTD_isError(size_t code)');
const errorName = lib.func('const char *ZSTD_getErrorName(size_t code)');

function check(r: number | bigint, what: string): number {
  if (isErrorC(r)) throw new TcrError(`${what}: ${errorName(r) as string}`);
  return Number(r);
}

/** One zstd decoding stream (ZSTD_DCtx). Call free() when done, also after an error. */
export class ZstdDecoder {
  private ctx: unknown = createDCtx();

  /**
   * Decodes from `src` starting at srcPos into `dst`; returns how much of each
   * it used and libzstd's hint (0 = a frame just ended and was fully flushed).
   */
  step(dst: Buffer, src: Buffer, srcPos: number): { srcPos: number; written: number; hint: number } {
    if (this.ctx === null) throw new Error('ZstdDecoder used after free()');
    const dp = [0];
    const sp = [srcPos];
    const r = decompressStep(this.ctx, dst, dst.length, dp, src, src.length, sp);
    const hint = check(r, 'corrupt zstd data');
    return { srcPos: sp[0], written: dp[0], hint };
  }

  free(): void {
    if (this.ctx !== null) freeDCtx(this.ctx);
    this.ctx = null;
  }
}

/** One-shot compression (tests and benchmarks build zstd layers with it). */
export function zstdCompress(data: Buffer, level = 3): Buffer {
  const out = Buffer.allocUnsafe(Number(compressBound(data.length)));
  const n = check(compressC(out, out.length, data, data.length, level), 'zstd compression');
  return out.subarray(0, n);
}
