// Layers unpacked as root, compared entry by entry: owners, setuid bits,
// devices, xattrs (security.capability too), nanosecond mtimes, long names;
// multi-layer images in overlay form (whiteouts, opaque directories, hard
// links across layers, file/dir replacements), flattened, and checked
// against the kernel's own overlay mount of the same layers.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { flattenLayers, unpackLayer } from '../../src/image/unpack.js';
import { lgetxattrs } from '../../src/sys/fsops.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { isRoot } from '../helpers.js';
import { type Node, type TarEntry, expectTree, fileSha, gzip, makeTar, sha256, snapshot } from '../layers.js';

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

describe.skipIf(!isRoot)('unpackLayer as root', () => {
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
    'usr/bin/ping': { type: 'file', mode: 0o755, xattrs: { 'security.capability': CAP_NET_RAW.toString('hex'), 'user.note': Buffer.from('hi').toString('hex') } },
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
      expect(t['etc/motd.link']!.ino).toBe(t['etc/motd']!.ino);
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

describe.skipIf(!isRoot)('multi-layer images', () => {
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
    expect(t2.opt!.xattrs).toEqual({ 'trusted.overlay.opaque': Buffer.from('y').toString('hex') });
    expect(t2.later!.xattrs).toEqual({ 'trusted.overlay.opaque': Buffer.from('y').toString('hex') });
    expect(t2.x!.xattrs).toEqual({});
    // a hard link to a lower layer's file is a copy of it, with its metadata
    expect(t2['etc/passwd.hard']).toMatchObject({ type: 'file', sha256: fileSha('big1'), mode: 0o4750, gid: 9, nlink: 1 });
    expect(t2['etc/passwd.hard']!.ino).not.toBe(tree(d1)['data/big']!.ino);
    // directories the layer never named keep the look they have below
    expect(t2['var/lib/info']).toMatchObject({ type: 'dir', mode: 0o750, gid: 7, mtime: TS });
    expect(t2.bin!.mode).toBe(0o711);
    const t3 = tree(d3);
    expect(t3['data/big2']).toMatchObject({ type: 'file', sha256: fileSha('big1'), nlink: 2 });
    expect(t3['data/big3']!.ino).toBe(t3['data/big2']!.ino);

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
    await expect(unpackLayer(stream(await makeTar([{ name: 'h', type: 'link', linkname: 'a/passwd' }])), dir, { lowerDirs: [lower] })).rejects.toThrow(
      /entry "h": hard link target "a\/passwd" is not in this layer or the layers below/,
    );
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

describe.skipIf(!isRoot)('flattenLayers', () => {
  const unpack = unpackLayer;

  it('replaces a lower symlink by an upper directory instead of writing through it', async () => {
    const outside = fresh();
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'file'), 'original');
    const lower = fresh();
    await unpack(stream(await makeTar([{ name: 'a', type: 'symlink', linkname: outside }, { name: 'b', type: 'symlink', linkname: outside }])), lower);
    const upper = fresh();
    await unpack(stream(await makeTar([{ name: 'a/', type: 'directory' }, { name: 'a/file', content: 'pwned' }, { name: 'b/.wh.file' }])), upper, { lowerDirs: [lower] });
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
    expect(() => flattenLayers([lower, path.join(scratch, 'missing')], dest)).toThrow(/flattening layer .*missing into .*: \/: (lstat|scandir): ENOENT/);
    expect(fs.existsSync(dest)).toBe(false);
  });
});
