// The hostile layers every path that unpacks layers must survive: the layer
// unpacker itself (test/integration/unpack-hostile.test.ts) and `tcr unpack`
// (test/integration/unpack-bundle.test.ts). Each is given the sentinel
// directory S outside the layer that the layer aims at.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { expect } from 'vitest';
import { lgetxattrs } from '../src/sys/fsops.js';
import { type TarEntry, makeTar, rawHeader, rawPax, snapshot } from './layers.js';

/** A tar whose names and link names are raw bytes, given one char per byte ('\xff' is the byte ff). */
export function byteTar(entries: { name: string; typeflag?: string; content?: string; linkname?: string; paxPath?: boolean }[]): Buffer {
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

export interface RefusedLayer {
  what: string;
  /** the layer as a tar (plain) */
  tar: () => Promise<Buffer>;
  /** what the error says */
  message: RegExp;
  /** the layer is compressed already: use it as the blob as it is */
  gzipped?: boolean;
}

const entries = (e: TarEntry[]) => () => makeTar(e);

/** Layers the unpacker refuses, naming the entry and the reason. */
export function refusedLayers(S: string): RefusedLayer[] {
  const cases: [string, TarEntry[], RegExp][] = [
    ['a .. name', [{ name: '../outside/file', content: 'pwned' }], /entry "..\/outside\/file": name .* has a '..' component/],
    ['a .. name deeper down', [{ name: 'a/b/../../../outside/x', content: 'pwned' }], /'\.\.' component/],
    [
      'a write through an absolute symlink',
      [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'a/file', content: 'pwned' },
      ],
      /entry "a\/file": parent "a" is a symlink in this layer/,
    ],
    [
      'a write through a relative symlink',
      [
        { name: 'a', type: 'symlink', linkname: '../../outside' },
        { name: 'a/new', content: 'pwned' },
      ],
      /parent "a" is a symlink/,
    ],
    [
      'a write through a nested symlink',
      [
        { name: 'd/', type: 'directory' },
        { name: 'd/l', type: 'symlink', linkname: '../../../outside' },
        { name: 'd/l/sub/f', content: 'pwned' },
      ],
      /parent "d\/l" is a symlink/,
    ],
    [
      'a directory swapped for a symlink',
      [
        { name: 'a/', type: 'directory' },
        { name: 'a/ok', content: 'ok' },
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'a/file', content: 'pwned' },
      ],
      /parent "a" is a symlink/,
    ],
    [
      'a directory entry through a symlink',
      [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'a/newdir/', type: 'directory' },
      ],
      /parent "a" is a symlink/,
    ],
    [
      'a write below a file',
      [
        { name: 'f', content: 'x' },
        { name: 'f/g', content: 'pwned' },
      ],
      /parent "f" is not a directory/,
    ],
    ['a hard link with ..', [{ name: 'h', type: 'link', linkname: '../outside/file' }], /hard link target .* has a '\.\.' component/],
    [
      'a hard link to an absolute path',
      [{ name: 'h', type: 'link', linkname: path.join(S, 'file') }],
      /hard link target ".*outside\/file" is not in this layer/,
    ],
    [
      'a hard link through a symlinked parent',
      [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'h', type: 'link', linkname: 'a/file' },
      ],
      /hard link target "a\/file" is not in this layer/,
    ],
    ['a whiteout with ..', [{ name: '../.wh.outside' }], /'\.\.' component/],
    ['a whiteout of ..', [{ name: 'a/.wh...' }], /whiteout names no valid entry/],
    ['a whiteout of the root', [{ name: '.wh.' }], /whiteout names no valid entry/],
    ['a whiteout through a symlink', [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/.wh.file' }], /parent "a" is a symlink/],
    [
      'an opaque marker through a symlink',
      [{ name: 'a', type: 'symlink', linkname: S }, { name: 'a/.wh..wh..opq' }],
      /parent "a" is a symlink/,
    ],
    [
      'a device through a symlink',
      [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'a/null', type: 'character-device', devmajor: 1, devminor: 3 },
      ],
      /parent "a" is a symlink/,
    ],
    [
      'a FIFO through a symlink',
      [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'a/p', type: 'fifo' },
      ],
      /parent "a" is a symlink/,
    ],
    ['a symlink as the layer root', [{ name: './', type: 'symlink', linkname: '/' }], /a symlink cannot replace the layer root/],
  ];
  // names that are not UTF-8 get the same checks: '/' and '.' are the same bytes in them
  const bytes: [string, Buffer, RegExp][] = [
    [
      'a .. name after a byte that is not UTF-8',
      byteTar([
        { name: 'ok\xfe', content: 'x' },
        { name: '\xff/../../outside/file', content: 'pwned' },
      ]),
      /entry "\\xff\/\.\.\/\.\.\/outside\/file": name .* has a '\.\.' component/,
    ],
    [
      'a .. name in a raw PAX path record',
      byteTar([{ name: '\xfe/../../outside/file', content: 'pwned', paxPath: true }]),
      /entry "\\xfe\/\.\.\/.*'\.\.' component/,
    ],
    [
      'a hard link with .. and bytes that are not UTF-8',
      byteTar([{ name: 'h\xfd', typeflag: '1', linkname: 'a\xff/../../outside/file' }]),
      /hard link target "a\\xff\/\.\..*'\.\.' component/,
    ],
    [
      'a write through a symlink whose name is not UTF-8',
      byteTar([
        { name: 'a\xff', typeflag: '2', linkname: S },
        { name: 'a\xff/file', content: 'pwned' },
      ]),
      /entry "a\\xff\/file": parent "a\\xff" is a symlink in this layer/,
    ],
    [
      'a whiteout through a symlink whose name is not UTF-8',
      byteTar([{ name: 'a\xff', typeflag: '2', linkname: S }, { name: 'a\xff/.wh.file' }]),
      /parent "a\\xff" is a symlink/,
    ],
    [
      'a hard link through a symlink whose name is not UTF-8',
      byteTar([
        { name: 'a\xff', typeflag: '2', linkname: S },
        { name: 'h', typeflag: '1', linkname: 'a\xff/file' },
      ]),
      /hard link target "a\\xff\/file" is not in this layer/,
    ],
  ];
  return [
    ...cases.map(([what, e, message]) => ({ what, tar: entries(e), message })),
    ...bytes.map(([what, b, message]) => ({ what, tar: async () => b, message })),
  ];
}

/** Layers cut short: an entry the stream ends inside, and a header that claims more than there is (gzip-wrapped). */
export function truncatedLayers(): RefusedLayer[] {
  return [
    {
      what: 'an entry cut short by the end of the stream',
      tar: async () =>
        (
          await makeTar([
            { name: 'ok', content: 'fine' },
            { name: 'big', content: Buffer.alloc(3_000_000, 7) },
          ])
        ).subarray(0, 2_000_000),
      message: /entry "big": truncated/,
    },
    {
      what: 'a header that claims more data than the stream has, gzip-wrapped',
      tar: async () => zlib.gzipSync(Buffer.concat([rawHeader({ name: 'liar', typeflag: '0', size: 1 << 30 }), Buffer.alloc(4096, 1)])),
      message: /entry "liar": truncated/,
      gzipped: true,
    },
  ];
}

export interface NeutralisedLayer {
  what: string;
  tar: () => Promise<Buffer>;
  /** what the layer (or rootfs) made of it holds, checked in its root directory */
  check: (root: string) => void;
}

/** the path of `rel` (one char per byte) below dir */
const at = (dir: string, rel: string): Buffer => Buffer.concat([Buffer.from(`${dir}/`), Buffer.from(rel, 'latin1')]);

/** Layers that are taken, made harmless: everything they write stays inside the root. */
export function neutralisedLayers(S: string): NeutralisedLayer[] {
  return [
    {
      what: 'takes "..\\xff" and "\\xff.." as the names they are, inside the root',
      tar: async () =>
        byteTar([
          { name: '/..\xff/x', content: 'a' },
          { name: '\xff..', content: 'b' },
        ]),
      check: (root) => {
        expect(fs.readFileSync(at(root, '..\xff/x'), 'utf8')).toBe('a');
        expect(fs.readFileSync(at(root, '\xff..'), 'utf8')).toBe('b');
      },
    },
    {
      what: 'neutralises absolute names: they land inside the root',
      tar: entries([
        { name: path.join(S, 'file'), content: 'pwned' },
        { name: '/pwned', content: 'p' },
      ]),
      check: (root) => {
        expect(fs.readFileSync(path.join(root, S, 'file'), 'utf8')).toBe('pwned');
        expect(fs.readFileSync(path.join(root, 'pwned'), 'utf8')).toBe('p');
      },
    },
    {
      what: 'replaces a symlink by a file instead of writing through it',
      tar: entries([
        { name: 'f', type: 'symlink', linkname: path.join(S, 'file') },
        { name: 'f', content: 'pwned' },
      ]),
      check: (root) => expect(fs.lstatSync(path.join(root, 'f')).isFile()).toBe(true),
    },
    {
      what: 'links to an escaping symlink itself, and a later write replaces the link',
      tar: entries([
        { name: 's', type: 'symlink', linkname: path.join(S, 'file') },
        { name: 'h', type: 'link', linkname: 's' },
        { name: 'h2', type: 'link', linkname: 's' },
        { name: 'h', content: 'pwned' },
      ]),
      check: (root) => {
        expect(fs.readlinkSync(path.join(root, 'h2'))).toBe(path.join(S, 'file'));
        expect(fs.readFileSync(path.join(root, 'h'), 'utf8')).toBe('pwned');
      },
    },
    {
      what: 'creates FIFOs without opening them, and replaces one by a file',
      tar: entries([
        { name: 'p', type: 'fifo' },
        { name: 'q', type: 'fifo' },
        { name: 'p', content: 'x' },
      ]),
      check: (root) => {
        expect(fs.lstatSync(path.join(root, 'q')).isFIFO()).toBe(true);
        expect(fs.readFileSync(path.join(root, 'p'), 'utf8')).toBe('x');
      },
    },
    {
      what: 'drops xattrs that would steer overlayfs',
      tar: entries([
        { name: 'd/', type: 'directory', xattrs: { 'trusted.overlay.redirect': Buffer.from('/etc'), 'user.ok': Buffer.from('1') } },
        { name: 'f', content: 'x', xattrs: { 'trusted.overlay.opaque': Buffer.from('y'), 'user.overlay.opaque': Buffer.from('y') } },
      ]),
      check: (root) => {
        const t = snapshot(root, lgetxattrs);
        expect(t.d.xattrs).toEqual({ 'user.ok': Buffer.from('1').toString('hex') });
        expect(t.f.xattrs).toEqual({});
      },
    },
  ];
}

/**
 * A gzip or zstd bomb: a tar of one 1 GiB file of zeros as ~1 MiB of
 * compressed data (one small member repeated: concatenated members are one
 * valid stream), as the chunks to stream.
 */
export function bombChunks(compress: (b: Buffer) => Buffer, copies = 15): Buffer[] {
  const zeros = Buffer.alloc(64 << 20);
  const first = compress(Buffer.concat([rawHeader({ name: 'zeros', typeflag: '0', size: 1 << 30 }), zeros.subarray(512)]));
  const member = compress(zeros);
  return [first, ...Array.from({ length: copies }, () => member)];
}
