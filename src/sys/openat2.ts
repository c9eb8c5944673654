// openat2(2) through koffi, for paths inside a container's root: with
// RESOLVE_IN_ROOT a symlink (absolute or '..') resolves as if the root were
// '/', so nothing a container's files say can lead out of it, and the check
// and the use are one call. Loaded only by `tcr cp`, `export` and the other
// file transfers; Linux 5.6 or later (the executor needs it too).
import koffi from 'koffi';
import { errnoName } from './errno.js';
import { SysError } from './fsops.js';

export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const O_PATH = 0o10000000;
export const O_CLOEXEC = 0o2000000;
const SYS_OPENAT2: Record<string, number> = { x64: 437, arm64: 437, arm: 437, ia32: 437, riscv64: 437, s390x: 437, ppc64: 437 };

let bound:
  | { syscall: (nr: number, ...args: unknown[]) => number | bigint; readlinkat: (fd: number, p: string, b: Buffer, n: number) => number }
  | undefined;
function libc() {
  if (!bound) {
    const lib = koffi.load('libc.so.6');
    bound = {
      syscall: lib.func('long syscall(long nr, ...)') as never,
      readlinkat: lib.func('long readlinkat(int fd, const char *path, void *buf, size_t size)') as never,
    };
  }
  return bound;
}

/** openat2(dirfd, path, flags, resolve): an fd, or a SysError with the errno's name as its code. */
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  const nr = SYS_OPENAT2[process.arch] ?? 437;
  const fd = Number(libc().syscall(nr, 'int', dirfd, 'const char *', path, 'void *', how, 'size_t', how.length));
  if (fd < 0) {
    const errno = koffi.errno();
    throw new SysError('openat2', errno, errnoName(errno), path);
  }
  return fd;
}

/** The target of the symlink an O_PATH|O_NOFOLLOW fd holds (readlinkat(fd, "")), as bytes decoded UTF-8. */
export function readlinkFd(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = Number(libc().readlinkat(fd, '', buf, buf.length));
  if (n < 0) {
    const errno = koffi.errno();
    throw new SysError('readlinkat', errno, errnoName(errno), `fd ${fd}`);
  }
  return buf.toString('utf8', 0, n);
}
