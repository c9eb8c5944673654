// File-system calls Node's fs lacks, through koffi: mknod(2) (devices, FIFOs
// and the 0/0 character devices overlayfs uses as whiteouts) and the xattr
// family (trusted.overlay.opaque, security.capability, user.*). Only the layer
// unpacker and flattener import this module, so `tcr create|start` never pays
// for loading koffi here. Symlink ownership and times need no FFI: Node's
// fs.lchownSync and fs.lutimesSync already use the no-follow syscalls.
import koffi from 'koffi';
import { errnoName } from './errno.js';
import type { Timespec } from './time.js';

// Bound on first use: an image run of a present image reaches this module
// (through the unpacker) without calling it, and loading koffi is slow.
let bound: ReturnType<typeof bind> | undefined;
const c = () => (bound ??= bind());
function bind() {
  // ssize_t is spelled long: koffi has no ssize_t, and tcr runs on LP64 Linux
  const libc = koffi.load('libc.so.6');
  return {
    // glibc >= 2.33 exports mknod itself (no more __xmknod); bookworm has 2.36.
    mknod: libc.func('int mknod(const char *path, uint32 mode, uint64 dev)'),
    lsetxattr: libc.func('int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)'),
    fsetxattr: libc.func('int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags)'),
    lgetxattr: libc.func('long lgetxattr(const char *path, const char *name, void *value, size_t size)'),
    llistxattr: libc.func('long llistxattr(const char *path, void *list, size_t size)'),
    // Node's utimes family takes seconds as a double and keeps microseconds;
    // layers carry nanoseconds (PAX mtime), so times are set through these.
    futimens: libc.func('int futimens(int fd, const void *times)'),
    utimensat: libc.func('int utimensat(int dirfd, const char *path, const void *times, int flags)'),
  };
}
const AT_FDCWD = -100;

/**
 * A path as Node's fs takes it: a string, or the exact bytes of a name that
 * is not UTF-8 (layers may hold such names). koffi passes a string as UTF-8
 * with a NUL; a Buffer is passed as its memory, so it gets the NUL here.
 */
export type Path = string | Buffer;
const NUL = Buffer.of(0);
const cPath = (p: Path): string | Buffer => (typeof p === 'string' ? p : Buffer.concat([p, NUL]));
const shown = (p: Path): string => (typeof p === 'string' ? p : p.toString());
const AT_SYMLINK_NOFOLLOW = 0x100;

export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** An errno from a call made here: `code` is the errno name, as Node's own fs errors carry it. */
export class SysError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
    readonly code: string,
    readonly path: string,
  ) {
    super(`${syscall} ${path}: ${code}`);
    this.name = 'SysError';
  }
}

function check(r: number | bigint, call: string, path: Path): number {
  const n = Number(r);
  if (n < 0) {
    const errno = koffi.errno();
    throw new SysError(call, errno, errnoName(errno), shown(path));
  }
  return n;
}

const times = Buffer.alloc(32);
function int64(off: number, n: number): void {
  // two 32-bit halves: no BigInt per call (seconds stay far below 2^53)
  times.writeUInt32LE(n >>> 0, off);
  times.writeInt32LE(Math.floor(n / 2 ** 32), off + 4);
}

function encodeTimes(atime: Timespec, mtime: Timespec): Buffer {
  int64(0, atime.sec);
  int64(8, atime.nsec);
  int64(16, mtime.sec);
  int64(24, mtime.nsec);
  return times;
}

/** Sets access and modification times of an open file, to the nanosecond. */
export function futimens(fd: number, atime: Timespec, mtime: Timespec, pathForErrors: Path): void {
  check(c().futimens(fd, encodeTimes(atime, mtime)), 'futimens', pathForErrors);
}

/** Sets the times of `path` itself (a symlink's own, not its target's). */
export function lutimens(path: Path, atime: Timespec, mtime: Timespec): void {
  check(c().utimensat(AT_FDCWD, cPath(path), encodeTimes(atime, mtime), AT_SYMLINK_NOFOLLOW), 'utimensat', path);
}

/** glibc's makedev(): the 64-bit dev_t layout the kernel's new_encode_dev expects. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return ((ma & 0xfffff000n) << 32n) | ((ma & 0xfffn) << 8n) | ((mi & 0xffffff00n) << 12n) | (mi & 0xffn);
}

/** The major and minor numbers of a dev_t as fs.Stats reports it (a number). */
export function splitDev(rdev: number | bigint): { major: number; minor: number } {
  const d = BigInt(rdev);
  return {
    major: Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & 0xfffff000n)),
    minor: Number((d & 0xffn) | ((d >> 12n) & 0xffffff00n)),
  };
}

/**
 * mknod(2): `type` is S_IFCHR, S_IFBLK or S_IFIFO. The umask applies, so
 * callers chmod afterwards. Never follows a symlink at `path` (EEXIST instead).
 */
export function mknod(path: Path, type: number, perm: number, major = 0, minor = 0): void {
  check(c().mknod(cPath(path), (type | (perm & 0o7777)) >>> 0, makedev(major, minor)), 'mknod', path);
}

/** Sets an xattr on `path` itself, not on what a symlink points to. */
export function lsetxattr(path: Path, name: string, value: Buffer): void {
  check(c().lsetxattr(cPath(path), name, value, value.length, 0), `lsetxattr ${name}`, path);
}

/** Sets an xattr through an open fd (no path lookup at all). */
export function fsetxattr(fd: number, name: string, value: Buffer, pathForErrors: Path): void {
  check(c().fsetxattr(fd, name, value, value.length, 0), `fsetxattr ${name}`, pathForErrors);
}

/** The value of one xattr of `path` (not following a symlink), or null when it is not set. */
export function lgetxattr(path: Path, name: string): Buffer | null {
  const cp = cPath(path);
  let size = 256;
  for (;;) {
    const buf = Buffer.alloc(size);
    const r = Number(c().lgetxattr(cp, name, buf, size));
    if (r >= 0) return buf.subarray(0, r);
    const errno = koffi.errno();
    const code = errnoName(errno);
    if (code === 'ENODATA' || code === 'ENOTSUP' || code === 'EOPNOTSUPP') return null;
    // ERANGE: the value grew past our buffer; ask the size and retry
    if (code !== 'ERANGE') throw new SysError(`lgetxattr ${name}`, errno, code, shown(path));
    size = Math.max(size * 2, check(c().lgetxattr(cp, name, null, 0), `lgetxattr ${name}`, path));
  }
}

/** The names of every xattr of `path` (not following a symlink). */
export function llistxattr(path: Path): string[] {
  const cp = cPath(path);
  for (;;) {
    const size = Number(c().llistxattr(cp, null, 0));
    if (size < 0) {
      const errno = koffi.errno();
      const code = errnoName(errno);
      if (code === 'ENOTSUP' || code === 'EOPNOTSUPP') return [];
      throw new SysError('llistxattr', errno, code, shown(path));
    }
    if (size === 0) return [];
    const buf = Buffer.alloc(size);
    const r = Number(c().llistxattr(cp, buf, size));
    if (r < 0 && errnoName(koffi.errno()) === 'ERANGE') continue; // grew meanwhile
    check(r, 'llistxattr', path);
    return buf
      .subarray(0, r)
      .toString('utf8')
      .split('\0')
      .filter((n) => n !== '');
  }
}

/** Every xattr of `path` with its value. */
export function lgetxattrs(path: Path): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const name of llistxattr(path)) {
    const v = lgetxattr(path, name);
    if (v !== null) out.set(name, v);
  }
  return out;
}
