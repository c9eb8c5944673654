// errno numbers to names and text, for messages like "mount /proc: EPERM".
import os from 'node:os';

const names = new Map<number, string>();
for (const [name, num] of Object.entries(os.constants.errno)) if (!names.has(num)) names.set(num, name);

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
  return names.get(errno) ?? `errno ${errno}`;
}

export function errnoText(errno: number): string {
  return descriptions[errnoName(errno)] ?? '';
}
