// The layer unpacker's parts that need no root: name normalisation, PAX
// parsing, compression detection, and unpacking plain files, symlinks and
// hard links (no owners, devices or trusted xattrs), with the stream-level
// failures: truncation, corrupt compression, a wrong diffID, the size limit.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDecimalSeconds, timespecFromNs } from '../../src/sys/time.js';
import { compressionOfMediaType, detectCompression } from '../../src/image/decompress.js';
import { EntryError, decodePax, normalizeName, toEntry } from '../../src/image/tar-entry.js';
import { unpackLayer } from '../../src/image/unpack.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { MEDIA } from '../../src/image/types.js';
import { expectTree, fileSha, gzip, makeTar, rawPax, sha256, snapshot } from '../layers.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-unpack-unit-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(scratch, `l${n++}`);

/** A stream that hands over `buf` in small pieces, like a network download. */
function chunked(buf: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) parts.push(buf.subarray(i, i + size));
  return Readable.from(parts, { objectMode: false });
}

describe('normalizeName', () => {
  it('strips leading slashes and dot components like GNU tar', () => {
    expect(normalizeName('/etc/passwd')).toBe('etc/passwd');
    expect(normalizeName('./a//b/./c/')).toBe('a/b/c');
    expect(normalizeName('./')).toBe('');
    expect(normalizeName('///')).toBe('');
  });
  it('refuses any .. component', () => {
    for (const bad of ['..', '../x', 'a/../../x', 'a/..', '/../etc']) expect(() => normalizeName(bad)).toThrow(EntryError);
    expect(normalizeName('a/..b/c..')).toBe('a/..b/c..');
  });
  it('takes its fast path only when that gives what the component-wise rule gives', () => {
    const reference = (name: string): string => {
      const parts = name.split('/').filter((c) => c !== '' && c !== '.');
      if (parts.includes('..')) return 'refused';
      return parts.join('/');
    };
    const atoms = ['a', 'b.c', '.', '..', '/', '.wh.x', '..x'];
    let seed = 42;
    const rnd = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    for (let i = 0; i < 5000; i++) {
      const name = Array.from({ length: 1 + rnd(6) }, () => atoms[rnd(atoms.length)]).join('');
      let got: string;
      try {
        got = normalizeName(name);
      } catch {
        got = 'refused';
      }
      expect({ name, got }).toEqual({ name, got: reference(name) });
    }
  });
});

describe('PAX records', () => {
  it('keeps binary xattr values byte for byte and text values as UTF-8', () => {
    const cap = Buffer.from([0x01, 0x00, 0x00, 0x02, 0xff, 0xfe, 0x80, 0x0a, 0x00]);
    const block = rawPax([
      ['SCHILY.xattr.security.capability', cap],
      ['path', Buffer.from('dír/fïle')],
    ]);
    const data = block.subarray(512, 512 + Number.parseInt(block.toString('latin1', 124, 135), 8));
    const pax = decodePax(data);
    expect(pax.path).toBe('dír/fïle');
    expect(Buffer.from(pax['SCHILY.xattr.security.capability'], 'latin1')).toEqual(cap);
  });
  it('rejects a record whose length runs past the header', () => {
    expect(() => decodePax(Buffer.from('99 path=x\n'))).toThrow(/corrupt PAX/);
  });
  it('reads ids and nanosecond times from PAX records', () => {
    const e = toEntry({
      name: './x',
      type: 'file',
      mode: 0o104755,
      uid: 1,
      gid: 2,
      size: 0,
      mtime: new Date(5000),
      linkname: '',
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
      pax: { uid: '3000000000', gid: '7', mtime: '1700000000.123456789', 'SCHILY.xattr.user.a': 'b' },
    });
    expect(e).toMatchObject({ path: 'x', mode: 0o4755, uid: 3000000000, gid: 7, mtime: { sec: 1700000000, nsec: 123456789 } });
    expect(e.xattrs.get('user.a')).toEqual(Buffer.from('b'));
  });
  it('refuses GNU sparse files and unknown entry types', () => {
    const base = {
      name: 'x',
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: 0,
      mtime: new Date(0),
      linkname: '',
      uname: '',
      gname: '',
      devmajor: 0,
      devminor: 0,
    };
    expect(() => toEntry({ ...base, type: 'file', pax: { 'GNU.sparse.major': '1' } })).toThrow(/sparse/);
    expect(() => toEntry({ ...base, type: null as never })).toThrow(/unsupported entry type/);
  });
});

describe('times', () => {
  it('parses decimal seconds exactly, including negative ones', () => {
    expect(parseDecimalSeconds('12.5')).toEqual({ sec: 12, nsec: 500000000 });
    expect(parseDecimalSeconds('-1.25')).toEqual({ sec: -2, nsec: 750000000 });
    expect(parseDecimalSeconds('1.0000000019')).toEqual({ sec: 1, nsec: 1 });
    expect(parseDecimalSeconds('x')).toBeNull();
    expect(timespecFromNs(-1n)).toEqual({ sec: -1, nsec: 999999999 });
  });
});

describe('compression', () => {
  it('follows the media type', () => {
    expect(compressionOfMediaType(MEDIA.ociLayer)).toBe('none');
    expect(compressionOfMediaType(MEDIA.ociLayerGzip)).toBe('gzip');
    expect(compressionOfMediaType(MEDIA.dockerLayerGzip)).toBe('gzip');
    expect(compressionOfMediaType(MEDIA.ociLayerZstd)).toBe('zstd');
    expect(compressionOfMediaType('application/octet-stream')).toBe('auto');
  });
  it('detects gzip and zstd by magic bytes', () => {
    expect(detectCompression(gzip(Buffer.from('x')))).toBe('gzip');
    expect(detectCompression(zstdCompress(Buffer.from('x')))).toBe('zstd');
    expect(detectCompression(Buffer.from('ustar'))).toBe('none');
    expect(detectCompression(Buffer.alloc(0))).toBe('none');
  });
});

describe('unpackLayer without root', () => {
  const entries = [
    { name: './', type: 'directory' as const, mode: 0o755 },
    { name: 'etc/', type: 'directory' as const, mode: 0o750 },
    { name: 'etc/hostname', content: 'box\n', mode: 0o600 },
    { name: 'etc/alias', type: 'link' as const, linkname: 'etc/hostname' },
    { name: 'bin/sh', content: '#!sh', mode: 0o755 },
    { name: 'etc/link', type: 'symlink' as const, linkname: '../bin/sh' },
    { name: `deep/${'d'.repeat(120)}/${'n'.repeat(150)}`, content: 'long name' },
  ];
  const expected = {
    '': { type: 'dir', mode: 0o755 },
    etc: { type: 'dir', mode: 0o750 },
    'etc/hostname': { type: 'file', mode: 0o600, sha256: fileSha('box\n'), nlink: 2 },
    'etc/alias': { type: 'file', sha256: fileSha('box\n'), nlink: 2 },
    bin: { type: 'dir', mode: 0o755 },
    'bin/sh': { type: 'file', mode: 0o755, sha256: fileSha('#!sh') },
    'etc/link': { type: 'symlink', target: '../bin/sh' },
    deep: { type: 'dir' },
    [`deep/${'d'.repeat(120)}`]: { type: 'dir' },
    [`deep/${'d'.repeat(120)}/${'n'.repeat(150)}`]: { type: 'file', sha256: fileSha('long name') },
  } as const;

  for (const kind of ['none', 'gzip', 'zstd'] as const) {
    it(`unpacks a ${kind} layer (declared and auto-detected) and reports its diffID`, async () => {
      const plain = await makeTar(entries);
      const blob = kind === 'gzip' ? gzip(plain) : kind === 'zstd' ? zstdCompress(plain) : plain;
      for (const compression of [kind, 'auto'] as const) {
        const dir = fresh();
        const r = await unpackLayer(chunked(blob), dir, { compression, expectedDiffId: sha256(plain) });
        expect(r).toEqual({ diffId: sha256(plain), size: plain.length });
        expectTree(snapshot(dir), expected);
        const st = snapshot(dir);
        expect(st['etc/alias'].ino).toBe(st['etc/hostname'].ino);
      }
    });
  }

  it('reads streams of several gzip members or zstd frames (as parallel compressors write them)', async () => {
    const plain = await makeTar(entries);
    const half = 1536;
    for (const c of [gzip, (b: Buffer) => zstdCompress(b)]) {
      const blob = Buffer.concat([c(plain.subarray(0, half)), c(plain.subarray(half))]);
      const dir = fresh();
      expect(await unpackLayer(chunked(blob, 77), dir)).toEqual({ diffId: sha256(plain), size: plain.length });
      expectTree(snapshot(dir), expected);
    }
  });

  it('hashes the whole uncompressed stream, padding after the end-of-archive blocks included', async () => {
    const plain = Buffer.concat([await makeTar(entries.slice(0, 3)), Buffer.alloc(8192)]);
    const r = await unpackLayer(chunked(gzip(plain)), fresh(), { mediaType: MEDIA.ociLayerGzip });
    expect(r).toEqual({ diffId: sha256(plain), size: plain.length });
  });

  const failures: [string, () => Promise<Buffer>, RegExp, object?][] = [
    [
      'a name with ..',
      () => makeTar([{ name: 'ok' }, { name: 'a/../../evil', content: 'x' }]),
      /entry "a\/..\/..\/evil": name .* has a '\.\.' component/,
    ],
    [
      'a truncated entry',
      async () => (await makeTar([{ name: 'big', content: Buffer.alloc(100_000, 1) }])).subarray(0, 50_000),
      /truncated/,
    ],
    [
      'corrupt gzip',
      async () => Buffer.concat([gzip(await makeTar(entries)).subarray(0, 40), Buffer.alloc(200, 0x55)]),
      /corrupt gzip|truncated gzip/,
      { compression: 'gzip' },
    ],
    ['truncated gzip', async () => gzip(await makeTar(entries)).subarray(0, 100), /truncated gzip/],
    [
      'corrupt zstd',
      async () => {
        const z = zstdCompress(await makeTar(entries));
        z.fill(0x55, 8, 40);
        return z;
      },
      /zstd/,
    ],
    ['truncated zstd', async () => zstdCompress(await makeTar(entries)).subarray(0, 60), /truncated zstd|zstd/],
    ['not a tar', async () => Buffer.alloc(2048, 0x41), /tar header/],
    ['a wrong diffID', () => makeTar(entries), /diffID mismatch/, { expectedDiffId: `sha256:${'0'.repeat(64)}` }],
    [
      'more bytes than maxBytes',
      () => makeTar([{ name: 'f', content: Buffer.alloc(1 << 20) }]),
      /larger than the limit of 65536 bytes/,
      { maxBytes: 65536 },
    ],
    ['a name longer than PATH_MAX', () => makeTar([{ name: 'a/'.repeat(3000) + 'f', content: 'x' }]), /name longer than 4095 bytes/],
    [
      'a hard link to a missing file',
      () => makeTar([{ name: 'h', type: 'link', linkname: 'nowhere' }]),
      /hard link target "nowhere" is not in this layer/,
    ],
    [
      'a hard link to a directory',
      () =>
        makeTar([
          { name: 'd/', type: 'directory' },
          { name: 'h', type: 'link', linkname: 'd' },
        ]),
      /hard link to a directory/,
    ],
  ];
  for (const [what, blob, message, opts] of failures) {
    it(`refuses ${what}, names the layer and removes the partial directory`, async () => {
      const dir = fresh();
      const err = await unpackLayer(chunked(await blob()), dir, { label: 'L1', ...opts }).catch((e: Error) => e);
      expect(err).toBeInstanceOf(Error);
      expect((err as Error).message).toMatch(/^layer L1: /);
      expect((err as Error).message).toMatch(message);
      expect(fs.existsSync(dir)).toBe(false);
    });
  }

  it('refuses a target directory that is not empty, and leaves it alone', async () => {
    const dir = fresh();
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'keep'), 'mine');
    await expect(unpackLayer(chunked(await makeTar(entries)), dir)).rejects.toThrow(/not empty/);
    expect(fs.readFileSync(path.join(dir, 'keep'), 'utf8')).toBe('mine');
  });
});
