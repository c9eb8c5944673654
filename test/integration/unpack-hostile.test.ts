// Hostile layers: each case is refused (and the partial layer directory is
// gone) or neutralised, and a sentinel directory outside the layer is the
// same afterwards, byte for byte and time for time. Decompression bombs
// stop at the size limit without the process's memory growing with them.
// The cases live in test/hostile-layers.ts: `tcr unpack` is tried on them too.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lgetxattrs } from '../../src/sys/fsops.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { isRoot, lacks } from '../helpers.js';
import { bombChunks, neutralisedLayers, refusedLayers, truncatedLayers } from '../hostile-layers.js';
import { type Node, snapshot } from '../layers.js';

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-hostile-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const S = path.join(scratch, 'outside'); // the sentinel
let n = 0;
const fresh = (): string => path.join(scratch, 'layers', `l${n++}`);
const tree = (dir: string): Record<string, Node> => snapshot(dir, lgetxattrs);
const stream = (b: Buffer): Readable => Readable.from([b], { objectMode: false });

describe.skipIf(lacks(isRoot))('hostile layers', () => {
  let before: Record<string, Node>;
  beforeAll(() => {
    fs.mkdirSync(path.join(S, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(scratch, 'layers'));
    fs.writeFileSync(path.join(S, 'file'), 'original');
    fs.writeFileSync(path.join(S, 'sub', 'f'), 'original too');
    before = tree(S);
  });
  afterEach(() => {
    // nothing outside the layers' directory changed, and nothing new appeared next to it
    expect(tree(S)).toEqual(before);
    expect(fs.readdirSync(scratch).sort()).toEqual(['layers', 'outside']);
    expect(fs.existsSync('/pwned')).toBe(false);
  });

  for (const { what, tar, message } of refusedLayers(S)) {
    it(`refuses ${what}`, async () => {
      const dir = fresh();
      await expect(unpackLayer(stream(await tar()), dir)).rejects.toThrow(message);
      expect(fs.existsSync(dir)).toBe(false);
    });
  }

  for (const { what, tar, check } of neutralisedLayers(S)) {
    it(what, async () => {
      const dir = fresh();
      await unpackLayer(stream(await tar()), dir);
      check(dir);
    });
  }

  for (const { what, tar, message } of truncatedLayers()) {
    it(`refuses ${what}, and leaks no file descriptor`, async () => {
      const dir = fresh();
      const tarball = await tar();
      const fds = openFds();
      await expect(unpackLayer(stream(tarball), dir)).rejects.toThrow(message);
      expect(fs.existsSync(dir)).toBe(false);
      expect(openFds()).toBe(fds);
    });
  }

  for (const kind of ['gzip', 'zstd'] as const) {
    it(`stops a ${kind} decompression bomb at maxBytes with bounded memory`, async () => {
      const chunks = bombChunks((b) => (kind === 'gzip' ? zlib.gzipSync(b) : zstdCompress(b)));
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const dir = fresh();
      try {
        const input = Readable.from(chunks, { objectMode: false });
        await expect(unpackLayer(input, dir, { maxBytes: 256 << 20 })).rejects.toThrow(/larger than the limit of 268435456 bytes/);
      } finally {
        clearInterval(timer);
      }
      expect(fs.existsSync(dir)).toBe(false);
      expect(peak - rss0).toBeLessThan(96 << 20);
    }, 60_000);
  }
});
