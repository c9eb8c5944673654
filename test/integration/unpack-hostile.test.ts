// Hostile layers: each case is refused (and the partial layer directory is
// gone) or neutralised, and a sentinel directory outside the layer is the
// same afterwards, byte for byte and time for time. Decompression bombs
// stop at the size limit without the process's memory growing with them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { lgetxattrs } from '../../src/sys/fsops.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { isRoot } from '../helpers.js';
import { type Node, type TarEntry, makeTar, rawHeader, rawPax, snapshot } from '../layers.js';

const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-hostile-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
const S = path.join(scratch, 'outside'); // the sentinel
let n = 0;
const fresh = (): string => path.join(scratch, 'layers', `l${n++}`);
const tree = (dir: string): Record<string, Node> => snapshot(dir, lgetxattrs);
const stream = (b: Buffer): Readable => Readable.from([b], { objectMode: false });

/** A tar whose names and link names are raw bytes, given one char per byte ('\xff' is the byte ff). */
function byteTar(entries: { name: string; typeflag?: string; content?: string; linkname?: string; paxPath?: boolean }[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = Buffer.from(e.content ?? '');
    if (e.paxPath) parts.push(rawPax([['path', Buffer.from(e.name, 'latin1')]]));
    const h = rawHeader({ name: e.paxPath ? 'placeholder' : '', typeflag: e.typeflag ?? '0', size: content.length });
    if (!e.paxPath) h.write(e.name, 0, 100, 'latin1');
    if (e.linkname !== undefined) h.write(e.linkname, 157, 100, 'latin1');
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    parts.push(h, Buffer.concat([content, Buffer.alloc((512 - (content.length % 512)) % 512)]));
  }
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

describe.skipIf(!isRoot)('hostile layers', () => {
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

  const refused: [string, () => TarEntry[], RegExp][] = [
    ['a .. name', () => [{ name: '../outside/file', content: 'pwned' }], /entry "..\/outside\/file": name .* has a '..' component/],
    ['a .. name deeper down', () => [{ name: 'a/b/../../../outside/x', content: 'pwned' }], /'\.\.' component/],
    ['a write through an absolute symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/file', content: 'pwned' }], /entry "a\/file": parent "a" is a symlink in this layer/],
    ['a write through a relative symlink', () => [{ name: 'a', type: 'symlink', linkname: '../../outside' }, { name: 'a/new', content: 'pwned' }], /parent "a" is a symlink/],
    ['a write through a nested symlink', () => [{ name: 'd/', type: 'directory' }, { name: 'd/l', type: 'symlink', linkname: '../../../outside' }, { name: 'd/l/sub/f', content: 'pwned' }], /parent "d\/l" is a symlink/],
    ['a directory swapped for a symlink', () => [{ name: 'a/', type: 'directory' }, { name: 'a/ok', content: 'ok' }, { name: 'a', type: 'symlink', linkname: S }, { name: 'a/file', content: 'pwned' }], /parent "a" is a symlink/],
    ['a directory entry through a symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/newdir/', type: 'directory' }], /parent "a" is a symlink/],
    ['a write below a file', () => [{ name: 'f', content: 'x' }, { name: 'f/g', content: 'pwned' }], /parent "f" is not a directory/],
    ['a hard link with ..', () => [{ name: 'h', type: 'link', linkname: '../outside/file' }], /hard link target .* has a '\.\.' component/],
    ['a hard link to an absolute path', () => [{ name: 'h', type: 'link', linkname: path.join(S, 'file') }], /hard link target ".*outside\/file" is not in this layer/],
    ['a hard link through a symlinked parent', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'h', type: 'link', linkname: 'a/file' }], /hard link target "a\/file" is not in this layer/],
    ['a whiteout with ..', () => [{ name: '../.wh.outside' }], /'\.\.' component/],
    ['a whiteout of ..', () => [{ name: 'a/.wh...' }], /whiteout names no valid entry/],
    ['a whiteout of the root', () => [{ name: '.wh.' }], /whiteout names no valid entry/],
    ['a whiteout through a symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/.wh.file' }], /parent "a" is a symlink/],
    ['an opaque marker through a symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/.wh..wh..opq' }], /parent "a" is a symlink/],
    ['a device through a symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/null', type: 'character-device', devmajor: 1, devminor: 3 }], /parent "a" is a symlink/],
    ['a FIFO through a symlink', () => [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/p', type: 'fifo' }], /parent "a" is a symlink/],
    ['a symlink as the layer root', () => [{ name: './', type: 'symlink', linkname: '/' }], /a symlink cannot replace the layer root/],
  ];
  for (const [what, entries, message] of refused) {
    it(`refuses ${what}`, async () => {
      const dir = fresh();
      await expect(unpackLayer(stream(await makeTar(entries())), dir)).rejects.toThrow(message);
      expect(fs.existsSync(dir)).toBe(false);
    });
  }

  // names that are not UTF-8 get the same checks: '/' and '.' are the same bytes in them
  const refusedBytes: [string, () => Buffer, RegExp][] = [
    ['a .. name after a byte that is not UTF-8', () => byteTar([{ name: 'ok\xfe', content: 'x' }, { name: '\xff/../../outside/file', content: 'pwned' }]), /entry "\\xff\/\.\.\/\.\.\/outside\/file": name .* has a '\.\.' component/],
    ['a .. name in a raw PAX path record', () => byteTar([{ name: '\xfe/../../outside/file', content: 'pwned', paxPath: true }]), /entry "\\xfe\/\.\.\/.*'\.\.' component/],
    ['a hard link with .. and bytes that are not UTF-8', () => byteTar([{ name: 'h\xfd', typeflag: '1', linkname: 'a\xff/../../outside/file' }]), /hard link target "a\\xff\/\.\..*'\.\.' component/],
    ['a write through a symlink whose name is not UTF-8', () => byteTar([{ name: 'a\xff', typeflag: '2', linkname: S }, { name: 'a\xff/file', content: 'pwned' }]), /entry "a\\xff\/file": parent "a\\xff" is a symlink in this layer/],
    ['a whiteout through a symlink whose name is not UTF-8', () => byteTar([{ name: 'a\xff', typeflag: '2', linkname: S }, { name: 'a\xff/.wh.file' }]), /parent "a\\xff" is a symlink/],
    ['a hard link through a symlink whose name is not UTF-8', () => byteTar([{ name: 'a\xff', typeflag: '2', linkname: S }, { name: 'h', typeflag: '1', linkname: 'a\xff/file' }]), /hard link target "a\\xff\/file" is not in this layer/],
  ];
  for (const [what, tarball, message] of refusedBytes) {
    it(`refuses ${what}`, async () => {
      const dir = fresh();
      await expect(unpackLayer(stream(tarball()), dir)).rejects.toThrow(message);
      expect(fs.existsSync(dir)).toBe(false);
    });
  }

  it('takes "..\\xff" and "\\xff.." as the names they are, inside the layer', async () => {
    const dir = fresh();
    await unpackLayer(stream(byteTar([{ name: '/..\xff/x', content: 'a' }, { name: '\xff..', content: 'b' }])), dir);
    const at = (rel: string): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(rel, 'latin1')]);
    expect(fs.readFileSync(at('..\xff/x'), 'utf8')).toBe('a');
    expect(fs.readFileSync(at('\xff..'), 'utf8')).toBe('b');
  });

  it('neutralises absolute names: they land inside the layer', async () => {
    const dir = fresh();
    await unpackLayer(stream(await makeTar([{ name: path.join(S, 'file'), content: 'pwned' }, { name: '/pwned', content: 'p' }])), dir);
    expect(fs.readFileSync(path.join(dir, S, 'file'), 'utf8')).toBe('pwned');
    expect(fs.readFileSync(path.join(dir, 'pwned'), 'utf8')).toBe('p');
  });

  it('replaces a symlink by a file instead of writing through it', async () => {
    const dir = fresh();
    await unpackLayer(stream(await makeTar([{ name: 'f', type: 'symlink', linkname: path.join(S, 'file') }, { name: 'f', content: 'pwned' }])), dir);
    expect(fs.lstatSync(path.join(dir, 'f')).isFile()).toBe(true);
  });

  it('links to an escaping symlink itself, and a later write replaces the link', async () => {
    const dir = fresh();
    const entries: TarEntry[] = [
      { name: 's', type: 'symlink', linkname: path.join(S, 'file') },
      { name: 'h', type: 'link', linkname: 's' },
      { name: 'h2', type: 'link', linkname: 's' },
      { name: 'h', content: 'pwned' },
    ];
    await unpackLayer(stream(await makeTar(entries)), dir);
    expect(fs.readlinkSync(path.join(dir, 'h2'))).toBe(path.join(S, 'file'));
    expect(fs.readFileSync(path.join(dir, 'h'), 'utf8')).toBe('pwned');
  });

  it('creates FIFOs without opening them, and replaces one by a file', async () => {
    const dir = fresh();
    await unpackLayer(stream(await makeTar([{ name: 'p', type: 'fifo' }, { name: 'q', type: 'fifo' }, { name: 'p', content: 'x' }])), dir);
    expect(fs.lstatSync(path.join(dir, 'q')).isFIFO()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'p'), 'utf8')).toBe('x');
  });

  it('drops xattrs that would steer overlayfs', async () => {
    const dir = fresh();
    const entries: TarEntry[] = [
      { name: 'd/', type: 'directory', xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc'), 'user.ok': Buffer.from('1') } },
      { name: 'f', content: 'x', xattrs: { 'trusted.overlay.opaque': Buffer.from('y'), 'user.overlay.opaque': Buffer.from('y') } },
    ];
    await unpackLayer(stream(await makeTar(entries)), dir);
    const t = tree(dir);
    expect(t.d!.xattrs).toEqual({ 'user.ok': Buffer.from('1').toString('hex') });
    expect(t.f!.xattrs).toEqual({});
  });

  it('refuses an entry cut short by the end of the stream, and leaks no file descriptor', async () => {
    const dir = fresh();
    const tarball = await makeTar([{ name: 'ok', content: 'fine' }, { name: 'big', content: Buffer.alloc(3_000_000, 7) }]);
    const fds = openFds();
    await expect(unpackLayer(stream(tarball.subarray(0, 2_000_000)), dir)).rejects.toThrow(/entry "big": truncated/);
    expect(fs.existsSync(dir)).toBe(false);
    expect(openFds()).toBe(fds);
  });

  it('refuses a header that claims more data than the stream has, even when gzip-wrapped', async () => {
    const dir = fresh();
    const lie = Buffer.concat([rawHeader({ name: 'liar', typeflag: '0', size: 1 << 30 }), Buffer.alloc(4096, 1)]);
    await expect(unpackLayer(stream(zlib.gzipSync(lie)), dir)).rejects.toThrow(/entry "liar": truncated/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  // A bomb: 1 GiB of zeros in a tar, as ~1 MiB of gzip or zstd (one small
  // compressed member repeated: concatenated members are one valid stream).
  const bomb = (member: Buffer, copies: number): Readable =>
    Readable.from(
      (function* () {
        for (let i = 0; i < copies; i++) yield member;
      })(),
      { objectMode: false },
    );
  for (const kind of ['gzip', 'zstd'] as const) {
    it(`stops a ${kind} decompression bomb at maxBytes with bounded memory`, async () => {
      const header = rawHeader({ name: 'zeros', typeflag: '0', size: 1 << 30 });
      const zeros = Buffer.alloc(64 << 20);
      const compress = (b: Buffer): Buffer => (kind === 'gzip' ? zlib.gzipSync(b) : zstdCompress(b));
      const first = compress(Buffer.concat([header, zeros.subarray(512)]));
      const member = compress(zeros);
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
      const dir = fresh();
      try {
        const input = Readable.from(
          (async function* () {
            yield first;
            yield* bomb(member, 15);
          })(),
          { objectMode: false },
        );
        await expect(unpackLayer(input, dir, { maxBytes: 256 << 20 })).rejects.toThrow(/larger than the limit of 268435456 bytes/);
      } finally {
        clearInterval(timer);
      }
      expect(fs.existsSync(dir)).toBe(false);
      expect(peak - rss0).toBeLessThan(96 << 20);
    }, 60_000);
  }
});
