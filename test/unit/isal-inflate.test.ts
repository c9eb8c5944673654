// ISA-L's gzip inflater (src/image/isal-inflate.ts, native/inflate.cc) must
// read a stream as node:zlib's gunzip does: the same bytes, and the same
// failures (unpack.ts words them by zlib's codes), with bounded read-ahead.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isalAvailable, isalGunzip } from '../../src/image/isal-inflate.js';

async function* chunks(buf: Buffer, size = 4096): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function inflateAll(input: Buffer, size?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of isalGunzip(chunks(input, size))) out.push(c);
  return Buffer.concat(out);
}

async function failure(input: Buffer): Promise<NodeJS.ErrnoException> {
  try {
    await inflateAll(input);
  } catch (e) {
    return e as NodeJS.ErrnoException;
  }
  throw new Error('inflated without an error');
}

// text that compresses in several block types, and random bytes that stay stored
const text = Buffer.from(Array.from({ length: 40_000 }, (_, i) => `line ${i} ${'x'.repeat(i % 50)}\n`).join(''));
const noise = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 2654435761) >>> 24));

describe.skipIf(!isalAvailable())('ISA-L gzip inflater', () => {
  it('gives the bytes zlib gives, whatever the input chunks', async () => {
    const plain = Buffer.concat([text, noise, text]);
    for (const level of [1, 6, 9]) {
      const gz = zlib.gzipSync(plain, { level });
      for (const size of [4096, 1 << 20]) expect((await inflateAll(gz, size)).equals(plain)).toBe(true);
    }
    // a byte at a time through the gzip header, then a few
    const small = zlib.gzipSync(text.subarray(0, 20_000));
    expect((await inflateAll(small, 1)).equals(text.subarray(0, 20_000))).toBe(true);
    expect((await inflateAll(small, 7)).equals(text.subarray(0, 20_000))).toBe(true);
  });

  it('reads members one after another, and zero bytes after one as padding', async () => {
    const two = Buffer.concat([zlib.gzipSync(text), zlib.gzipSync(noise)]);
    expect((await inflateAll(two, 1000)).equals(Buffer.concat([text, noise]))).toBe(true);
    const padded = Buffer.concat([zlib.gzipSync(text), Buffer.alloc(1024)]);
    expect((await inflateAll(padded)).equals(zlib.gunzipSync(padded))).toBe(true);
  });

  it('fails as zlib does on a truncated, an empty and a corrupt stream', async () => {
    const gz = zlib.gzipSync(text);
    expect((await failure(gz.subarray(0, gz.length - 5))).code).toBe('Z_BUF_ERROR');
    expect((await failure(Buffer.alloc(0))).code).toBe('Z_BUF_ERROR');
    const bad = Buffer.from(gz);
    bad[bad.length - 6] ^= 0xff; // the trailer's CRC
    expect(await failure(bad)).toMatchObject({ code: 'Z_DATA_ERROR', message: 'incorrect data check' });
    const junk = Buffer.concat([gz.subarray(0, 20), Buffer.alloc(200, 0x55)]);
    expect((await failure(junk)).code).toMatch(/^Z_(DATA|BUF)_ERROR$/);
    const notGzip = Buffer.from('plain text, not gzip');
    expect((await failure(notGzip)).code).toBe('Z_DATA_ERROR');
  });

  it('runs only a bounded way ahead of a slow consumer, and stops when it stops', async () => {
    const bomb = zlib.gzipSync(Buffer.alloc(64 << 20)); // 64 MiB of zeros in ~64 KiB
    let fed = 0;
    async function* counted(): AsyncGenerator<Buffer> {
      for await (const c of chunks(bomb, 1024)) {
        fed += c.length;
        yield c;
      }
    }
    const it = isalGunzip(counted());
    let got = 0;
    for (let i = 0; i < 3; i++) got += ((await it.next()).value as Buffer).length;
    await new Promise((r) => setTimeout(r, 200));
    // what the inflater took in covers the output read plus at most its read-ahead (4 MiB) and a step
    const ratio = (64 << 20) / bomb.length;
    expect(fed * ratio).toBeLessThan(got + (6 << 20) + ratio * 1024);
    await it.return(undefined);
    const after = fed;
    await new Promise((r) => setTimeout(r, 50));
    expect(fed).toBe(after);
  });
});
