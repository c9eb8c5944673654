// Layers unpacked as root, compared entry by entry: owners, setuid bits,
// devices, xattrs (security.capability too), nanosecond mtimes, long names;
// multi-layer images in overlay form (whiteouts, opaque directories, hard
// links across layers, file/dir replacements), flattened, and checked
// against the kernel's own overlay mount of the same layers; hard links
// across layers made links again in a flattened rootfs (tcr unpack).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { flattenLayers, unpackLayer } from '../../src/image/unpack.js';
import { lgetxattrs } from '../../src/sys/fsops.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { isRoot, lacks } from '../helpers.js';
import { type Node, type TarEntry, expectTree, fileSha, gzip, makeTar, rawHeader, rawPax, sha256, snapshot } from '../layers.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-unpack-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(scratch, `l${n++}`);
const xattrs = (p: string): Map<string, Buffer> => lgetxattrs(p);
const tree = (dir: string): Record<string, Node> => snapshot(dir, xattrs);
const stream = (b: Buffer): Readable => Readable.from([b.subarray(0, 700), b.subarray(700)], { objectMode: false });
const T = new Date('2020-01-02T03:04:05Z');
const TS = '1577934245.000000000';

/** security.capability, VFS_CAP_REVISION_2, effective, permitted = CAP_NET_RAW. */
const CAP_NET_RAW = Buffer.alloc(20);
CAP_NET_RAW.writeUInt32LE(0x02000001, 0);
CAP_NET_RAW.writeUInt32LE(1 << 13, 4);

describe.skipIf(lacks(isRoot))('unpackLayer as root', () => {
  const long1 = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
  const long2 = `g/${'g'.repeat(150)}`;
  const longTarget = `../${'t'.repeat(200)}`;
  const entries: TarEntry[] = [
    { name: './', type: 'directory', mode: 0o755, mtime: T },
    { name: 'usr/', type: 'directory', mtime: T },
    { name: 'usr/bin/', type: 'directory', mtime: T },
    { name: 'usr/bin/su', content: 'su', mode: 0o4755 },
    { name: 'usr/bin/wall', content: 'wall', mode: 0o2755, gid: 5 },
    { name: 'usr/bin/ping', content: 'ping', mode: 0o755, xattrs: { 'security.capability': CAP_NET_RAW, 'user.note': Buffer.from('hi') } },
    { name: 'usr/bin/sh', type: 'symlink', linkname: 'dash', uid: 1000, gid: 1000, mtime: T },
    { name: 'tmp/', type: 'directory', mode: 0o1777, mtime: T },
    { name: 'home/u/', type: 'directory', mode: 0o700, uid: 1000, gid: 1000, pax: { mtime: '1600000000.5' } },
    { name: 'home/u/notes', content: 'n', mode: 0o640, uid: 1000, gid: 100, pax: { mtime: '1600000000.123456789' } },
    { name: 'etc/motd', content: 'hello' },
    { name: 'etc/motd.link', type: 'link', linkname: 'etc/motd' },
    { name: 'dev/null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
    { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0, mode: 0o660, gid: 6 },
    { name: 'run/fifo', type: 'fifo', mode: 0o600 },
    { name: 'x/y', content: 'before its dir' },
    { name: 'x/', type: 'directory', mode: 0o711, mtime: T },
    { name: long1, content: 'pax name' },
    { name: long2, content: 'gnu name', gnuLong: true },
    { name: 'g/lnk', type: 'symlink', linkname: longTarget, gnuLong: true },
  ];
  const d = (mode = 0o755): Partial<Node> => ({ type: 'dir', mode, uid: 0, gid: 0 });
  const expected: Record<string, Partial<Node>> = {
    '': { ...d(), mtime: TS },
    usr: { ...d(), mtime: TS },
    'usr/bin': { ...d(), mtime: TS },
    'usr/bin/su': { type: 'file', mode: 0o4755, uid: 0, gid: 0, sha256: fileSha('su'), xattrs: {} },
    'usr/bin/wall': { type: 'file', mode: 0o2755, gid: 5, sha256: fileSha('wall') },
    'usr/bin/ping': {
      type: 'file',
      mode: 0o755,
      xattrs: { 'security.capability': CAP_NET_RAW.toString('hex'), 'user.note': Buffer.from('hi').toString('hex') },
    },
    'usr/bin/sh': { type: 'symlink', target: 'dash', uid: 1000, gid: 1000, mtime: TS },
    tmp: { ...d(0o1777), mtime: TS },
    home: d(),
    'home/u': { type: 'dir', mode: 0o700, uid: 1000, gid: 1000, mtime: '1600000000.500000000' },
    'home/u/notes': { type: 'file', mode: 0o640, uid: 1000, gid: 100, mtime: '1600000000.123456789' },
    etc: d(),
    'etc/motd': { type: 'file', sha256: fileSha('hello'), nlink: 2, mode: 0o644 },
    'etc/motd.link': { type: 'file', sha256: fileSha('hello'), nlink: 2 },
    dev: d(),
    'dev/null': { type: 'char', rdev: '1:3', mode: 0o666 },
    'dev/sda': { type: 'block', rdev: '8:0', mode: 0o660, gid: 6 },
    run: d(),
    'run/fifo': { type: 'fifo', mode: 0o600 },
    x: { ...d(0o711), mtime: TS },
    'x/y': { type: 'file', sha256: fileSha('before its dir') },
    ['a'.repeat(120)]: d(),
    [long1]: { type: 'file', sha256: fileSha('pax name') },
    g: d(),
    [long2]: { type: 'file', sha256: fileSha('gnu name') },
    'g/lnk': { type: 'symlink', target: longTarget },
  };

  for (const kind of ['none', 'gzip', 'zstd'] as const) {
    it(`writes every entry type exactly (${kind})`, async () => {
      const plain = await makeTar(entries);
      const blob = kind === 'gzip' ? gzip(plain) : kind === 'zstd' ? zstdCompress(plain) : plain;
      const dir = fresh();
      const r = await unpackLayer(stream(blob), dir, { expectedDiffId: sha256(plain) });
      expect(r.diffId).toBe(sha256(plain));
      const t = tree(dir);
      expectTree(t, expected);
      expect(t['etc/motd.link'].ino).toBe(t['etc/motd'].ino);
      // an independent reader of file capabilities agrees
      const getcap = spawnSync('getcap', [path.join(dir, 'usr/bin/ping')], { encoding: 'utf8' });
      if (getcap.error === undefined) expect(getcap.stdout).toMatch(/cap_net_raw[=+]ep/);
    });
  }
});

// ---- several layers ---------------------------------------------------------

const L1: TarEntry[] = [
  { name: 'bin/', type: 'directory' },
  { name: 'bin/sh', content: 'sh1', mode: 0o755 },
  { name: 'bin/ls', content: 'ls1', mode: 0o755 },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd', content: 'root1' },
  { name: 'var/', type: 'directory' },
  { name: 'var/lib/', type: 'directory' },
  { name: 'var/lib/info/', type: 'directory', mode: 0o750, gid: 7, mtime: T },
  { name: 'var/lib/info/a.list', content: 'a' },
  { name: 'opt/', type: 'directory' },
  { name: 'opt/a', content: 'a1' },
  { name: 'opt/sub/', type: 'directory' },
  { name: 'opt/sub/b', content: 'b1' },
  { name: 'x', content: 'x-file' },
  { name: 'y/', type: 'directory' },
  { name: 'y/inner', content: 'yi' },
  { name: 'data/', type: 'directory' },
  { name: 'data/big', content: 'big1', mode: 0o4750, gid: 9 },
  { name: 'gone/', type: 'directory' },
  { name: 'gone/f', content: 'gf' },
  { name: 'later/', type: 'directory' },
  { name: 'later/old', content: 'old' },
];
const L2: TarEntry[] = [
  { name: 'bin/', type: 'directory', mode: 0o711 },
  { name: 'bin/.wh.ls' },
  { name: '.wh.gone' },
  { name: 'opt/', type: 'directory' },
  { name: 'opt/.wh..wh..opq' },
  { name: 'opt/new', content: 'n2' },
  { name: 'x/', type: 'directory' },
  { name: 'x/child', content: 'c2' },
  { name: 'y', content: 'y-file' },
  { name: 'etc/', type: 'directory' },
  { name: 'etc/passwd.hard', type: 'link', linkname: 'data/big' },
  { name: 'etc/passwd', content: 'root2' },
  { name: 'new/', type: 'directory' },
  { name: 'new/f', content: 'f2' },
  { name: 'new/.wh.f' },
  { name: '.wh.later' },
  { name: 'later/', type: 'directory' },
  { name: 'later/z', content: 'z2' },
  { name: 'var/lib/info/b.list', content: 'b' },
];
const L3: TarEntry[] = [
  { name: 'etc/.wh.passwd.hard' },
  { name: 'bin/ls', content: 'ls3', mode: 0o755 },
  { name: '.wh.x' },
  { name: 'data/big2', type: 'link', linkname: 'data/big' },
  { name: 'data/big3', type: 'link', linkname: '/data/big' },
];

function mountOverlay(lowers: string[], target: string): boolean {
  fs.mkdirSync(target, { recursive: true });
  return spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target]).status === 0;
}

describe.skipIf(lacks(isRoot))('multi-layer images', () => {
  it('unpacks each layer in overlay form and flattens them like overlayfs merges them', async () => {
    const dirs: string[] = [];
    for (const layer of [L1, L2, L3]) {
      const dir = fresh();
      const blob = gzip(await makeTar(layer));
      await unpackLayer(stream(blob), dir, { lowerDirs: [...dirs].reverse() });
      dirs.push(dir);
    }
    const [d1, d2, d3] = dirs as [string, string, string];
    const t2 = tree(d2);
    // whiteouts are 0/0 character devices; a whiteout of a name the same layer wrote is a no-op
    expect(t2['bin/ls']).toMatchObject({ type: 'char', rdev: '0:0' });
    expect(t2.gone).toMatchObject({ type: 'char', rdev: '0:0' });
    expect(t2['new/f']).toMatchObject({ type: 'file', sha256: fileSha('f2') });
    // opaque directories: marked, and a whiteout followed by a directory makes one too
    expect(t2.opt.xattrs).toEqual({ 'trusted.overlay.opaque': Buffer.from('y').toString('hex') });
    expect(t2.later.xattrs).toEqual({ 'trusted.overlay.opaque': Buffer.from('y').toString('hex') });
    expect(t2.x.xattrs).toEqual({});
    // a hard link to a lower layer's file is a copy of it, with its metadata
    expect(t2['etc/passwd.hard']).toMatchObject({ type: 'file', sha256: fileSha('big1'), mode: 0o4750, gid: 9, nlink: 1 });
    expect(t2['etc/passwd.hard'].ino).not.toBe(tree(d1)['data/big'].ino);
    // directories the layer never named keep the look they have below
    expect(t2['var/lib/info']).toMatchObject({ type: 'dir', mode: 0o750, gid: 7, mtime: TS });
    expect(t2.bin.mode).toBe(0o711);
    const t3 = tree(d3);
    expect(t3['data/big2']).toMatchObject({ type: 'file', sha256: fileSha('big1'), nlink: 2 });
    expect(t3['data/big3'].ino).toBe(t3['data/big2'].ino);

    const flat = fresh();
    flattenLayers(dirs, flat);
    const f = tree(flat);
    const file = (c: string, extra: Partial<Node> = {}): Partial<Node> => ({ type: 'file', sha256: fileSha(c), ...extra });
    expectTree(f, {
      '': { type: 'dir' },
      bin: { type: 'dir', mode: 0o711 },
      'bin/sh': file('sh1', { mode: 0o755 }),
      'bin/ls': file('ls3'),
      etc: { type: 'dir' },
      'etc/passwd': file('root2'),
      var: { type: 'dir' },
      'var/lib': { type: 'dir' },
      'var/lib/info': { type: 'dir', mode: 0o750, gid: 7, mtime: TS },
      'var/lib/info/a.list': file('a'),
      'var/lib/info/b.list': file('b'),
      opt: { type: 'dir' },
      'opt/new': file('n2'),
      y: file('y-file'),
      data: { type: 'dir' },
      'data/big': file('big1', { mode: 0o4750, gid: 9 }),
      'data/big2': file('big1', { mode: 0o4750, gid: 9, nlink: 2 }),
      'data/big3': file('big1', { nlink: 2 }),
      new: { type: 'dir' },
      'new/f': file('f2'),
      later: { type: 'dir', xattrs: {} },
      'later/z': file('z2'),
    });

    // the kernel's overlayfs sees the same tree in the layer directories
    const mnt = path.join(scratch, 'mnt');
    const haveOverlay = fs.readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n');
    if (haveOverlay) expect(mountOverlay([d3, d2, d1], mnt)).toBe(true);
    if (haveOverlay) {
      try {
        const strip = (t: Record<string, Node>): Record<string, unknown> =>
          Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ...v, ino: 0, nlink: 0, xattrs: {} }]));
        expect(strip(tree(mnt))).toEqual(strip(f));
      } finally {
        spawnSync('umount', [mnt]);
      }
    }
  });

  it('refuses a hard link whose target a lower layer reaches through a symlink', async () => {
    const lower = fresh();
    await unpackLayer(stream(await makeTar([{ name: 'a', type: 'symlink', linkname: '/etc' }])), lower);
    const dir = fresh();
    await expect(
      unpackLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: 'a/passwd' }])), dir, { lowerDirs: [lower] }),
    ).rejects.toThrow(/entry "h": hard link target "a\/passwd" is not in this layer or the layers below/);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a hard link to a name a lower layer has but this layer whited out', async () => {
    const lower = fresh();
    await unpackLayer(stream(await makeTar([{ name: 'f', content: 'x' }])), lower);
    const dir = fresh();
    const blob = await makeTar([{ name: '.wh.f' }, { name: 'h', type: 'link', linkname: 'f' }]);
    await expect(unpackLayer(stream(blob), dir, { lowerDirs: [lower] })).rejects.toThrow(/hard link target "f" is not in this layer/);
  });
});

describe.skipIf(lacks(isRoot))('hard links across layers, flattened', () => {
  /** Unpacks the layers in order; returns their dirs and the lower links each reported. */
  const unpackAll = async (layers: TarEntry[][]): Promise<{ dirs: string[]; links: ([string, string][] | undefined)[] }> => {
    const dirs: string[] = [];
    const links: ([string, string][] | undefined)[] = [];
    for (const layer of layers) {
      const dir = fresh();
      links.push((await unpackLayer(stream(await makeTar(layer)), dir, { lowerDirs: [...dirs].reverse() })).lowerLinks);
      dirs.push(dir);
    }
    return { dirs, links };
  };

  it('become links to the lower file again, as applying the tars one over the other makes them', async () => {
    const { dirs, links } = await unpackAll([L1, L2, L3]);
    // data/big3 links to data/big too, but through the copy data/big2 already made in L3
    expect(links).toEqual([undefined, [['etc/passwd.hard', 'data/big']], [['data/big2', 'data/big']]]);
    const flat = fresh();
    flattenLayers(dirs, flat, { lowerLinks: links });
    const f = tree(flat);
    expect(f['data/big']).toMatchObject({ type: 'file', sha256: fileSha('big1'), mode: 0o4750, gid: 9, nlink: 3 });
    expect(f['data/big2'].ino).toBe(f['data/big'].ino);
    expect(f['data/big3'].ino).toBe(f['data/big'].ino);
    // L3 whited out etc/passwd.hard: the name goes, the file stays
    expect(f['etc/passwd.hard']).toBeUndefined();
    // the same names, types and contents as without the links
    const plain = fresh();
    flattenLayers(dirs, plain);
    const strip = (t: Record<string, Node>): Record<string, unknown> =>
      Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ...v, ino: 0, nlink: 0 }]));
    expect(strip(f)).toEqual(strip(tree(plain)));
  });

  it('stay copies when the same layer then replaces or deletes the target', async () => {
    const { dirs, links } = await unpackAll([
      [
        { name: 'f', content: 'one' },
        { name: 'g', content: 'gee' },
      ],
      [
        { name: 'h', type: 'link', linkname: 'f' },
        { name: 'f', content: 'two' },
        { name: 'k', type: 'link', linkname: 'g' },
        { name: '.wh.g' },
      ],
    ]);
    expect(links[1]).toEqual([
      ['h', 'f'],
      ['k', 'g'],
    ]);
    const flat = fresh();
    flattenLayers(dirs, flat, { lowerLinks: links });
    const f = tree(flat);
    expectTree(f, {
      '': { type: 'dir' },
      f: { sha256: fileSha('two'), nlink: 1 },
      h: { sha256: fileSha('one'), nlink: 1 },
      k: { sha256: fileSha('gee'), nlink: 1 },
    });
  });

  it('a forged record cannot link in a file from outside the rootfs', async () => {
    const outside = fresh();
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'file'), 'secret');
    const { dirs } = await unpackAll([
      [
        { name: 'a', type: 'symlink', linkname: outside },
        { name: 'file', content: 'secret' },
      ],
      [
        { name: 'h', content: 'secret' },
        { name: 'i', content: 'secret' },
        { name: 'j', content: 'secret' },
      ],
    ]);
    const flat = fresh();
    const forged: [string, string][] = [
      ['h', 'a/file'],
      ['i', `../${path.basename(outside)}/file`],
      ['j', path.join(outside, 'file')],
    ];
    flattenLayers(dirs, flat, { lowerLinks: [undefined, forged] });
    const inode = fs.statSync(path.join(outside, 'file')).ino;
    for (const n of ['h', 'i', 'j']) {
      expect(fs.lstatSync(path.join(flat, n)).ino).not.toBe(inode);
      expect(fs.lstatSync(path.join(flat, n)).nlink).toBe(1);
    }
    expect(fs.statSync(path.join(outside, 'file')).nlink).toBe(1);
  });
});

describe.skipIf(lacks(isRoot))('flattenLayers', () => {
  const unpack = unpackLayer;

  it('replaces a lower symlink by an upper directory instead of writing through it', async () => {
    const outside = fresh();
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'file'), 'original');
    const lower = fresh();
    await unpack(
      stream(
        await makeTar([
          { name: 'a', type: 'symlink', linkname: outside },
          { name: 'b', type: 'symlink', linkname: outside },
        ]),
      ),
      lower,
    );
    const upper = fresh();
    await unpack(
      stream(await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/file', content: 'pwned' }, { name: 'b/.wh.file' }])),
      upper,
      { lowerDirs: [lower] },
    );
    const flat = fresh();
    flattenLayers([lower, upper], flat);
    expect(fs.readFileSync(path.join(outside, 'file'), 'utf8')).toBe('original');
    expect(fs.readFileSync(path.join(flat, 'a', 'file'), 'utf8')).toBe('pwned');
    // in overlay form a whiteout's parent exists in the upper layer as a directory: so it does in the rootfs
    expect(fs.lstatSync(path.join(flat, 'b')).isDirectory()).toBe(true);
  });

  it('refuses a destination that is not empty and leaves it alone', () => {
    const dest = fresh();
    fs.mkdirSync(dest);
    fs.writeFileSync(path.join(dest, 'keep'), 'x');
    expect(() => flattenLayers([], dest)).toThrow(/not empty/);
    expect(fs.readFileSync(path.join(dest, 'keep'), 'utf8')).toBe('x');
  });

  it('removes the partial rootfs when a layer cannot be read, and names it', async () => {
    const lower = fresh();
    await unpack(stream(await makeTar([{ name: 'f', content: 'x' }])), lower);
    const dest = fresh();
    expect(() => flattenLayers([lower, path.join(scratch, 'missing')], dest)).toThrow(
      /flattening layer .*missing into .*: \/: (lstat|scandir): ENOENT/,
    );
    expect(fs.existsSync(dest)).toBe(false);
  });
});

// ---- names that are not UTF-8 ------------------------------------------------
// GNU tar stores names as the bytes the file system held. These layers are
// built from raw blocks (tar-stream's pack writes names as UTF-8); names are
// written here as latin1 strings, one char per byte: 'f\xffo' is 66 ff 6f.

const bytes = (s: string): Buffer => Buffer.from(s, 'latin1');
/** `rel` (one char per byte) under `dir`, as a Buffer path */
const at = (dir: string, rel: string): Buffer => Buffer.concat([Buffer.from(`${dir}/`), bytes(rel)]);
/** the names in a directory, as bytes, one char per byte, sorted */
const namesIn = (p: Buffer | string): string[] =>
  fs
    .readdirSync(p, { encoding: 'buffer' })
    .map((b) => b.toString('latin1'))
    .sort();
const pad512 = (b: Buffer): Buffer => Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

interface ByteEntry {
  name: string;
  typeflag?: string;
  content?: string;
  linkname?: string;
  mode?: number;
  uid?: number;
  /** the name in a GNU 'L' block (over 100 bytes) */
  gnuLong?: boolean;
  /** the name in a PAX path record, raw bytes (as GNU tar writes with hdrcharset=BINARY) */
  paxPath?: boolean;
  /** the link name in a PAX linkpath record, raw bytes */
  paxLinkpath?: boolean;
}

/** A tar of entries whose names and link names are raw bytes. */
function byteTar(entries: ByteEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const content = Buffer.from(e.content ?? '');
    if (e.gnuLong) {
      const data = Buffer.concat([bytes(e.name), Buffer.of(0)]);
      parts.push(rawHeader({ name: '././@LongLink', typeflag: 'L', size: data.length }), pad512(data));
    }
    const records: [string, Buffer][] = [];
    if (e.paxPath) records.push(['path', bytes(e.name)]);
    if (e.paxLinkpath) records.push(['linkpath', bytes(e.linkname!)]);
    if (records.length > 0) parts.push(rawPax(records));
    const h = rawHeader({ name: '', typeflag: e.typeflag ?? '0', size: content.length, mode: e.mode });
    bytes(e.paxPath ? 'placeholder' : e.name).copy(h, 0, 0, 100);
    if (e.linkname !== undefined) bytes(e.paxLinkpath ? 'placeholder' : e.linkname).copy(h, 157, 0, 100);
    if (e.uid !== undefined) h.write(`${e.uid.toString(8).padStart(7, '0')}\0`, 108, 'latin1');
    // the checksum again, over the bytes written here
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of h) sum += x;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    parts.push(h);
    if (content.length > 0) parts.push(pad512(content));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

describe.skipIf(lacks(isRoot))('names that are not UTF-8', () => {
  const longName = `long/${'l'.repeat(110)}\xf6`;
  const utf8 = (s: string): string => Buffer.from(s).toString('latin1'); // 'dír' as its UTF-8 bytes, one char per byte
  const lower: ByteEntry[] = [
    { name: 'd\xff/', typeflag: '5', mode: 0o750 },
    { name: 'd\xff/f\xffo', content: 'ff' },
    { name: 'd\xff/f\xfeo', content: 'fe' },
    { name: 'd\xff/s\xfd', typeflag: '2', linkname: 'f\xffo', uid: 1000 },
    { name: 'd\xff/h\xfc', typeflag: '1', linkname: 'd\xff/f\xfeo' },
    { name: 'd\xff/p\xf8', typeflag: '6', mode: 0o640 },
    { name: 'gone\xfb', content: 'g' },
    { name: 'keep\xfa', content: 'k', mode: 0o600 },
    { name: 'o\xf4/old\xf2', content: 'old' },
    { name: 'pax\xf7', content: 'pax', paxPath: true },
    { name: 'pax\xf7.lnk', typeflag: '2', linkname: 'd\xff/f\xfeo', paxPath: true, paxLinkpath: true },
    { name: utf8('dír/fïle'), content: 'utf8', paxPath: true },
    { name: longName, content: 'long', gnuLong: true },
  ];
  const upper: ByteEntry[] = [
    { name: '.wh.gone\xfb' },
    { name: 'd\xff/.wh.f\xffo' },
    { name: 'd\xff/more\xf1', content: 'more' },
    { name: 'up\xf5', typeflag: '1', linkname: 'keep\xfa' },
    { name: 'o\xf4/.wh..wh..opq' },
    { name: 'o\xf4/new\xf3', content: 'new' },
  ];

  it('unpacks them byte for byte, in overlay form, and flattens them exactly', async () => {
    const l1 = fresh();
    await unpackLayer(stream(byteTar(lower)), l1);
    expect(namesIn(l1)).toEqual(['d\xff', utf8('dír'), 'gone\xfb', 'keep\xfa', 'long', 'o\xf4', 'pax\xf7', 'pax\xf7.lnk'].sort());
    // two names that UTF-8 decoding would both make "f\ufffdo" stay two files
    expect(namesIn(at(l1, 'd\xff'))).toEqual(['f\xfeo', 'f\xffo', 'h\xfc', 'p\xf8', 's\xfd']);
    expect(fs.readFileSync(at(l1, 'd\xff/f\xffo'), 'utf8')).toBe('ff');
    expect(fs.readFileSync(at(l1, 'd\xff/f\xfeo'), 'utf8')).toBe('fe');
    expect(fs.lstatSync(at(l1, 'd\xff')).mode & 0o7777).toBe(0o750);
    const link = fs.lstatSync(at(l1, 'd\xff/s\xfd'));
    expect(link.isSymbolicLink() && link.uid).toBe(1000);
    expect(fs.readlinkSync(at(l1, 'd\xff/s\xfd'), { encoding: 'buffer' })).toEqual(bytes('f\xffo'));
    const hard = fs.lstatSync(at(l1, 'd\xff/h\xfc'));
    expect(hard.ino).toBe(fs.lstatSync(at(l1, 'd\xff/f\xfeo')).ino);
    expect(hard.nlink).toBe(2);
    const fifo = fs.lstatSync(at(l1, 'd\xff/p\xf8'));
    expect(fifo.isFIFO() && fifo.mode & 0o7777).toBe(0o640);
    expect(fs.readFileSync(at(l1, 'pax\xf7'), 'utf8')).toBe('pax');
    expect(fs.readlinkSync(at(l1, 'pax\xf7.lnk'), { encoding: 'buffer' })).toEqual(bytes('d\xff/f\xfeo'));
    expect(fs.readFileSync(path.join(l1, 'dír/fïle'), 'utf8')).toBe('utf8');
    expect(fs.readFileSync(at(l1, longName), 'utf8')).toBe('long');

    const l2 = fresh();
    await unpackLayer(stream(byteTar(upper)), l2, { lowerDirs: [l1] });
    expect(namesIn(l2)).toEqual(['d\xff', 'gone\xfb', 'o\xf4', 'up\xf5']);
    for (const w of ['gone\xfb', 'd\xff/f\xffo']) {
      const st = fs.lstatSync(at(l2, w));
      expect(st.isCharacterDevice() && st.rdev).toBe(0);
    }
    expect(namesIn(at(l2, 'd\xff'))).toEqual(['f\xffo', 'more\xf1']);
    // a directory this layer did not name looks as it does below
    expect(fs.lstatSync(at(l2, 'd\xff')).mode & 0o7777).toBe(0o750);
    // a hard link to the lower layer's file is a copy of it
    const up = fs.lstatSync(at(l2, 'up\xf5'));
    expect([fs.readFileSync(at(l2, 'up\xf5'), 'utf8'), up.mode & 0o7777, up.nlink]).toEqual(['k', 0o600, 1]);
    expect(lgetxattrs(at(l2, 'o\xf4')).get('trusted.overlay.opaque')).toEqual(Buffer.from('y'));

    const flat = fresh();
    flattenLayers([l1, l2], flat);
    expect(namesIn(flat)).toEqual(['d\xff', utf8('dír'), 'keep\xfa', 'long', 'o\xf4', 'pax\xf7', 'pax\xf7.lnk', 'up\xf5'].sort());
    expect(namesIn(at(flat, 'd\xff'))).toEqual(['f\xfeo', 'h\xfc', 'more\xf1', 'p\xf8', 's\xfd']);
    expect(namesIn(at(flat, 'o\xf4'))).toEqual(['new\xf3']);
    expect(fs.readFileSync(at(flat, 'd\xff/f\xfeo'), 'utf8')).toBe('fe');
    expect(fs.lstatSync(at(flat, 'd\xff/h\xfc')).ino).toBe(fs.lstatSync(at(flat, 'd\xff/f\xfeo')).ino);
    expect(fs.readlinkSync(at(flat, 'd\xff/s\xfd'), { encoding: 'buffer' })).toEqual(bytes('f\xffo'));
    expect(fs.lstatSync(at(flat, 'd\xff/s\xfd')).uid).toBe(1000);
    expect(fs.lstatSync(at(flat, 'd\xff')).mode & 0o7777).toBe(0o750);
    expect(fs.readFileSync(at(flat, longName), 'utf8')).toBe('long');

    // the kernel's overlayfs sees the same names in the layer directories
    const mnt = path.join(scratch, 'mnt-bytes');
    if (fs.readFileSync('/proc/filesystems', 'utf8').includes('\toverlay\n') && mountOverlay([l2, l1], mnt)) {
      try {
        expect(namesIn(mnt)).toEqual(namesIn(flat));
        expect(namesIn(at(mnt, 'd\xff'))).toEqual(namesIn(at(flat, 'd\xff')));
        expect(namesIn(at(mnt, 'o\xf4'))).toEqual(['new\xf3']);
      } finally {
        spawnSync('umount', [mnt]);
      }
    }
  });

  it('names a failing entry by its bytes, and removes the partial layer', async () => {
    const dir = fresh();
    const blob = byteTar([
      { name: 'ok\xff', content: 'x' },
      { name: 'd\xfe/', typeflag: '5' },
      { name: 'd\xfe/f\xfd', content: 'y' },
      { name: 'h\xfc', typeflag: '1', linkname: 'missing\xfb' },
    ]);
    await expect(unpackLayer(stream(blob), dir)).rejects.toThrow(/entry "h\\xfc": hard link target "missing\\xfb" is not in this layer/);
    expect(fs.existsSync(dir)).toBe(false);
  });
});
