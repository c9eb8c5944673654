// errno numbers to names and text, for messages like "mount /proc: EPERM".
import os from 'node:os';

// built at the first lookup: most commands never name an errno, and node:os would be one more module to load
let names: Map<number, string> | undefined;
function nameTable(): Map<number, string> {
  if (!names) {
    names = new Map();
    for (const [name, num] of Object.entries(os.constants.errno)) if (!names.has(num)) names.set(num, name);
  }
  return names;
}

const descriptions: Record<string, string> = {
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EEXIST: 'file exists',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EINVAL: 'invalid argument',
  EBUSY: 'device or resource busy',
  ENOSPC: 'no space left on device',
  ETIMEDOUT: 'timed out',
  ECHILD: 'exited with a non-zero status',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'path escapes the container root',
  ENOSYS: 'not supported',
  EBADF: 'bad file descriptor',
  ENOEXEC: 'exec format error',
};

export function errnoName(errno: number): string {
  return nameTable().get(errno) ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  return descriptions[errnoName(errno)] ?? '';
}
