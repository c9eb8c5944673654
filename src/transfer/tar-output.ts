// A tar stream to a file descriptor (stdout, or a file tcr opened), written
// with fs.writeSync as all of tcr's output is (src/log.ts): a stdio pipe
// another process left non-blocking gets its EAGAIN waited out, not lost.
import fs from 'node:fs';
import tty from 'node:tty';
import type { Readable } from 'node:stream';
import { TcrError, errnoCode } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function writeTarTo(fd: number, tar: Readable): Promise<void> {
  for await (const chunk of tar as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < chunk.length) {
      try {
        off += fs.writeSync(fd, chunk, off, chunk.length - off);
      } catch (e) {
        if (errnoCode(e) === 'EAGAIN') await sleep(5);
        else if (errnoCode(e) === 'EPIPE') throw new TcrError('the output was closed before the whole archive was written');
        else throw e;
      }
    }
  }
}

/** docker refuses to write an archive to a terminal, and so does tcr. */
export function refuseTerminal(fd: number, command: string): void {
  if (tty.isatty(fd)) throw new TcrError(`tcr ${command}: refusing to write an archive to a terminal; use -o FILE or redirect the output`);
}
