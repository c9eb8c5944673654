// Layer tarballs built in tests (tar-stream's pack, plus raw blocks for what
// pack cannot write: GNU long names and binary PAX xattr values), and a
// snapshot of a directory tree to compare entry by entry.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import tar from 'tar-stream';
import { expect } from 'vitest';

export type TarType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntry {
  name: string;
  type?: TarType;
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  /** PAX records written by tar-stream (UTF-8 text values) */
  pax?: Record<string, string>;
  /** xattrs with any bytes, written as a raw PAX header (SCHILY.xattr.NAME) before the entry */
  xattrs?: Record<string, Buffer>;
  /** write the name (and link name) with GNU 'L'/'K' long-name blocks instead of PAX */
  gnuLong?: boolean;
}

const T0 = new Date('2021-03-04T05:06:07Z');

/** One 512-byte tar header in GNU format, for blocks tar-stream's pack cannot make. */
export function rawHeader(h: { name: string; typeflag: string; size: number; mode?: number; linkname?: string; mtime?: number }): Buffer {
  const b = Buffer.alloc(512);
  b.write(h.name.slice(0, 100), 0, 'utf8');
  const oct = (n: number, len: number, off: number): void => void b.write(n.toString(8).padStart(len - 1, '0') + '\0', off, 'latin1');
  oct(h.mode ?? 0o644, 8, 100);
  oct(0, 8, 108);
  oct(0, 8, 116);
  oct(h.size, 12, 124);
  oct(h.mtime ?? Math.floor(T0.getTime() / 1000), 12, 136);
  b.write(h.typeflag, 156, 'latin1');
  if (h.linkname) b.write(h.linkname.slice(0, 100), 157, 'utf8');
  b.write('ustar  \0', 257, 'latin1');
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const x of b) sum += x;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}

function pad(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(512 - rest)]);
}

/** A PAX extended header block (typeflag 'x') whose records may hold any bytes. */
export function rawPax(records: [string, Buffer][]): Buffer {
  const recs = records.map(([k, v]) => {
    const body = Buffer.concat([Buffer.from(` ${k}=`), v, Buffer.from('\n')]);
    let len = body.length + 1;
    while (String(len).length + body.length !== len) len = String(len).length + body.length;
    return Buffer.concat([Buffer.from(String(len)), body]);
  });
  const data = Buffer.concat(recs);
  return Buffer.concat([rawHeader({ name: 'PaxHeaders/x', typeflag: 'x', size: data.length }), pad(data)]);
}

const FLAGS: Record<TarType, string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

function gnuLongEntry(e: TarEntry): Buffer {
  const parts: Buffer[] = [];
  const content = Buffer.from(e.content ?? '');
  const longBlock = (flag: string, value: string): void => {
    const data = Buffer.from(`${value}\0`);
    parts.push(rawHeader({ name: '././@LongLink', typeflag: flag, size: data.length }), pad(data));
  };
  if (e.linkname !== undefined) longBlock('K', e.linkname);
  longBlock('L', e.name);
  const type = e.type ?? 'file';
  parts.push(
    rawHeader({ name: e.name, typeflag: FLAGS[type], size: type === 'file' ? content.length : 0, mode: e.mode, linkname: e.linkname }),
  );
  if (type === 'file') parts.push(pad(content));
  return Buffer.concat(parts);
}

async function packEntries(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => void chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const content = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    pack.entry(
      {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        mtime: e.mtime ?? T0,
        linkname: e.linkname,
        devmajor: e.devmajor,
        devminor: e.devminor,
        pax: e.pax,
        size: content?.length ?? 0,
      },
      content ?? Buffer.alloc(0),
    );
  }
  pack.finalize();
  await done;
  const all = Buffer.concat(chunks);
  return all.subarray(0, all.length - 1024); // without the end-of-archive blocks
}

/** A complete tar archive of `entries`, in order. */
export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  let run: TarEntry[] = [];
  const flush = async (): Promise<void> => {
    if (run.length > 0) parts.push(await packEntries(run));
    run = [];
  };
  for (const e of entries) {
    if (e.gnuLong || e.xattrs) {
      await flush();
      if (e.xattrs) parts.push(rawPax(Object.entries(e.xattrs).map(([k, v]) => [`SCHILY.xattr.${k}`, v])));
      if (e.gnuLong) parts.push(gnuLongEntry(e));
      else parts.push(await packEntries([{ ...e, xattrs: undefined }]));
    } else run.push(e);
  }
  await flush();
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

export function gzip(b: Buffer): Buffer {
  return zlib.gzipSync(b);
}

export function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

export interface Node {
  type: 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256?: string;
  target?: string;
  rdev?: string;
  mtime: string;
  ino: number;
  nlink: number;
  xattrs: Record<string, string>;
}

/** Every node under `root` (root itself is ''), as lstat and the xattr calls see it. */
export function snapshot(root: string, xattrsOf: (p: string) => Map<string, Buffer> = () => new Map()): Record<string, Node> {
  const out: Record<string, Node> = {};
  const visit = (rel: string): void => {
    const abs = rel === '' ? root : path.join(root, rel);
    const st = fs.lstatSync(abs, { bigint: true });
    const type: Node['type'] = st.isDirectory()
      ? 'dir'
      : st.isSymbolicLink()
        ? 'symlink'
        : st.isCharacterDevice()
          ? 'char'
          : st.isBlockDevice()
            ? 'block'
            : st.isFIFO()
              ? 'fifo'
              : 'file';
    const node: Node = {
      type,
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' ? Number(st.size) : 0,
      mtime: `${st.mtimeNs / 1_000_000_000n}.${String(st.mtimeNs % 1_000_000_000n).padStart(9, '0')}`,
      ino: Number(st.ino),
      nlink: Number(st.nlink),
      xattrs: Object.fromEntries([...xattrsOf(abs)].map(([k, v]) => [k, v.toString('hex')])),
    };
    if (type === 'file') node.sha256 = sha256(fs.readFileSync(abs));
    if (type === 'symlink') node.target = fs.readlinkSync(abs);
    if (type === 'char' || type === 'block') node.rdev = `${Math.floor(Number(st.rdev) / 256)}:${Number(st.rdev) % 256}`;
    out[rel] = node;
    if (type === 'dir') for (const n of fs.readdirSync(abs).sort()) visit(rel === '' ? n : `${rel}/${n}`);
  };
  visit('');
  return out;
}

/** The tree has exactly the paths of `expected`, each with the listed fields. */
export function expectTree(actual: Record<string, Node>, expected: Record<string, Partial<Node>>): void {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [p, want] of Object.entries(expected)) {
    const got = actual[p];
    const picked = Object.fromEntries(Object.keys(want).map((k) => [k, got[k as keyof Node]]));
    expect({ path: p, ...picked }).toEqual({ path: p, ...want });
  }
}

export function fileSha(content: string | Buffer): string {
  return sha256(Buffer.from(content));
}
