// From a tar-stream header to an entry the layer writer can trust the shape
// of: a normalised relative path (no '..', no leading '/'), a known type,
// numeric ids and mode, exact xattr bytes, names byte-exact (byte-names.ts).
// Everything here is a pure function of the header, so it is unit-tested
// without root.
import type { Extract, Header } from 'tar-stream';
import { TcrError } from '../errors.js';
import { type Timespec, parseDecimalSeconds } from '../sys/time.js';
import { nameByteLength, nameFromBytes, nameFromLatin1, showName } from './byte-names.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo';

export interface LayerEntry {
  /** the name as the archive spelled it, for messages */
  raw: string;
  /** normalised: components joined by '/', '' for the layer root; like
   *  every name here, in byte-names.ts's form (fsPath() before fs calls) */
  path: string;
  type: EntryType;
  /** permission bits including setuid/setgid/sticky */
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** to the nanosecond when a PAX record gives it, else whole seconds */
  mtime: Timespec;
  atime: Timespec;
  /** symlink target, verbatim */
  linkname: string;
  /** hardlink target, normalised like `path` */
  linkpath: string;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** Why an archive entry is refused; the unpacker adds the layer and the entry name. */
export class EntryError extends Error {}

/** An entry that failed, named as the archive names it, with the reason in words. */
export class EntryFailure extends TcrError {
  constructor(
    readonly entry: string,
    readonly reason: string,
  ) {
    super(`entry ${showName(entry)}: ${reason}`);
    this.name = 'EntryFailure';
  }
}

/** Why something failed, in words: errno names for system calls, our own text otherwise. */
export function reasonOf(err: unknown): string {
  if (err instanceof EntryError || err instanceof TcrError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && e.code.startsWith('E')) return `${e.syscall ?? 'system call'}: ${e.code}`;
  return e instanceof Error ? e.message : String(err);
}

/** Whether an entry's content is written to a file: a regular file that is not a whiteout and not the root. */
export function hasContent(e: LayerEntry): boolean {
  return e.type === 'file' && e.path !== '' && !e.path.slice(e.path.lastIndexOf('/') + 1).startsWith('.wh.');
}

const TYPES: Record<string, EntryType> = {
  file: 'file',
  'contiguous-file': 'file',
  directory: 'dir',
  symlink: 'symlink',
  link: 'hardlink',
  'character-device': 'char',
  'block-device': 'block',
  fifo: 'fifo',
};

const PATH_MAX = 4096;
const XATTR_PREFIX = 'SCHILY.xattr.';
/** what makes a name need the full treatment: '..', '//', '/./', a leading '/', a trailing or lone '.' */
const SIMPLE_NAME_TRAPS = /\.\.|\/\/|\/\.\/|^\/|(^|\/)\.\/?$|^\.\/\.|^\.\/\//;
const LIBARCHIVE_XATTR = 'LIBARCHIVE.xattr.';

/**
 * A path inside the layer, as GNU tar treats member names: leading '/' is
 * stripped (an absolute name means "at the layer root"), '.' and empty
 * components vanish, and any '..' component refuses the entry outright —
 * GNU tar skips such members; a layer that has one is hostile, so tcr
 * rejects the whole layer instead of silently dropping part of it.
 */
export function normalizeName(name: string, what = 'name'): string {
  if (name.includes('\0')) throw new EntryError(`${what} contains a NUL byte`);
  // the usual "./usr/bin/x" or "usr/lib/" needs no splitting (a layer has thousands)
  if (!SIMPLE_NAME_TRAPS.test(name)) {
    const start = name.startsWith('./') ? 2 : 0;
    const end = name.endsWith('/') ? name.length - 1 : name.length;
    return start >= end ? '' : name.slice(start, end);
  }
  const parts: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new EntryError(`${what} ${showName(name)} has a '..' component`);
    parts.push(c);
  }
  return parts.join('/');
}

function id(value: string | undefined, fallback: number | undefined, what: string): number {
  const n = value !== undefined ? Number(value) : (fallback ?? 0);
  if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw new EntryError(`invalid ${what} ${value ?? fallback}`);
  return n;
}

function time(value: string | undefined, fallback: Timespec): Timespec {
  return (value === undefined ? null : parseDecimalSeconds(value)) ?? fallback;
}

function paxOf(h: Header): Record<string, string> {
  return (h as { pax?: Record<string, string> | null }).pax ?? {};
}

/**
 * The entry's name. tar-stream puts a PAX path record, when there is one,
 * into h.name: decodePax already made that a name. Otherwise h.name is the
 * ustar or GNU long name read one char per byte (patchPaxDecoding insists on
 * filenameEncoding 'latin1'), and becomes a name here.
 */
export function entryName(h: Header): string {
  const pax = paxOf(h);
  return pax.path ? pax.path : nameFromLatin1(h.name ?? '');
}

/** The link target, from a PAX linkpath record or the header, as entryName() does the name. */
function linkName(h: Header): string {
  const pax = paxOf(h);
  return pax.linkpath ? pax.linkpath : nameFromLatin1(h.linkname ?? '');
}

/** Turns a tar-stream header into a LayerEntry, or throws EntryError. */
export function toEntry(h: Header): LayerEntry {
  const pax = paxOf(h);
  const raw = entryName(h);
  // tar-stream reports typeflags it does not know (GNU sparse 'S', 'V', 'D', ...) as null
  const type = h.type ? TYPES[h.type] : undefined;
  if (type === undefined) throw new EntryError(`unsupported entry type ${h.type ?? '(unknown typeflag)'}`);
  const xattrs = new Map<string, Buffer>();
  for (const key in pax) {
    // values of xattr records are byte strings (see patchPaxDecoding)
    if (key.startsWith(XATTR_PREFIX)) xattrs.set(key.slice(XATTR_PREFIX.length), Buffer.from(pax[key], 'latin1'));
    else if (key.startsWith(LIBARCHIVE_XATTR))
      xattrs.set(decodeURIComponent(key.slice(LIBARCHIVE_XATTR.length)), Buffer.from(pax[key], 'base64'));
    else if (key.startsWith('GNU.sparse.')) throw new EntryError('GNU sparse files are not supported');
  }
  for (const name of xattrs.keys())
    if (name === '' || name.includes('\0')) throw new EntryError(`invalid xattr name ${JSON.stringify(name)}`);
  const mtime = time(pax.mtime, { sec: Math.floor((h.mtime?.getTime() ?? 0) / 1000), nsec: 0 });
  const path = normalizeName(raw);
  // PATH_MAX: longer names cannot be created anyway, and refusing them here
  // keeps the parent walk from recursing through a 4 MiB PAX path
  if (nameByteLength(path) >= PATH_MAX) throw new EntryError(`name longer than ${PATH_MAX - 1} bytes`);
  const linkpath = type === 'hardlink' ? normalizeName(linkName(h), 'hard link target') : '';
  if (nameByteLength(linkpath) >= PATH_MAX) throw new EntryError(`hard link target longer than ${PATH_MAX - 1} bytes`);
  const size = type === 'file' ? (h.size ?? 0) : 0;
  if (!Number.isSafeInteger(size) || size < 0) throw new EntryError(`invalid size ${h.size}`);
  return {
    raw,
    path,
    type,
    mode: (h.mode ?? 0o644) & 0o7777,
    uid: id(pax.uid, h.uid, 'uid'),
    gid: id(pax.gid, h.gid, 'gid'),
    size,
    mtime,
    atime: time(pax.atime, mtime),
    linkname: type === 'symlink' ? linkName(h) : '',
    linkpath,
    devmajor: h.devmajor ?? 0,
    devminor: h.devminor ?? 0,
    xattrs,
  };
}

/**
 * PAX records, parsed from their bytes. tar-stream 3 decodes every record
 * value as UTF-8, which destroys binary xattr values (security.capability is
 * a binary struct, and GNU tar writes SCHILY.xattr values raw) and names
 * that are not UTF-8 (GNU tar writes them raw, with hdrcharset=BINARY). So
 * the extractor instance gets this decoder instead: keys and ordinary values
 * as UTF-8, path and linkpath as names (byte-names.ts), xattr values as
 * latin1 strings that map byte for byte back to a Buffer. It replaces
 * tar-stream's private _decodeLongHeader on the one instance, for PAX
 * headers only; the unit tests pin that behaviour. The extractor must read
 * header names as latin1 (one char per byte), which entryName() relies on.
 */
export function patchPaxDecoding(extract: Extract): void {
  type Private = {
    _header: { type: string };
    _pax: Record<string, string> | null;
    _paxGlobal: Record<string, string> | null;
    _filenameEncoding: string;
    _decodeLongHeader(buf: Buffer): void;
  };
  const ex = extract as unknown as Private;
  if (typeof ex._decodeLongHeader !== 'function' || !('_paxGlobal' in ex))
    throw new Error('tar-stream internals changed: review patchPaxDecoding');
  if (ex._filenameEncoding !== 'latin1')
    throw new Error("the extractor must read names as bytes: tar.extract({ filenameEncoding: 'latin1' })");
  const original = ex._decodeLongHeader.bind(ex);
  ex._decodeLongHeader = (buf: Buffer): void => {
    const type = ex._header.type;
    if (type === 'pax-global-header') ex._paxGlobal = decodePax(buf);
    else if (type === 'pax-header') ex._pax = { ...(ex._paxGlobal ?? {}), ...decodePax(buf) };
    else original(buf);
  };
}

/** "LEN KEY=VALUE\n" records; LEN counts bytes, so values may hold any byte. */
export function decodePax(buf: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let off = 0;
  while (off < buf.length) {
    const sp = buf.indexOf(0x20, off);
    if (sp < 0) break;
    const len = Number.parseInt(buf.toString('latin1', off, sp), 10);
    if (!Number.isInteger(len) || len <= sp - off + 1 || off + len > buf.length) throw new EntryError('corrupt PAX header');
    const rec = buf.subarray(sp + 1, off + len - 1); // without the trailing '\n'
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new EntryError('corrupt PAX header record');
    const key = rec.toString('utf8', 0, eq);
    if (key === 'path' || key === 'linkpath') out[key] = nameFromBytes(rec.subarray(eq + 1));
    else out[key] = rec.toString(key.startsWith(XATTR_PREFIX) ? 'latin1' : 'utf8', eq + 1);
    off += len;
  }
  return out;
}
