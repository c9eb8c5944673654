// Writing a whole buffer to one of the caller's fds (a terminal or pipe that
// may be non-blocking): EAGAIN is retried, and any other error ends the copy,
// since a reader gone away must cost only its own copy, never the container.
import fs from 'node:fs';
import { errnoCode } from '../errors.js';

export function writeAll(fd: number, buf: Buffer): void {
  let off = 0;
  while (off < buf.length) {
    try {
      off += fs.writeSync(fd, buf, off);
    } catch (e) {
      if (errnoCode(e) !== 'EAGAIN') return;
    }
  }
}
