// A tar stream to a file descriptor (stdout, or a file tcr opened), written
// with fs.writeSync as all of tcr's output is (src/log.ts): a stdio pipe
// another process left non-blocking gets its EAGAIN waited out, not lost.
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import type { Readable } from 'node:stream';
import { TcrError, errnoCode, errorMessage } from '../errors.js';

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

/**
 * An archive to `-o FILE` (written beside it and renamed into place whole, so
 * a failure leaves no half archive) or, without -o, to stdout (not a terminal).
 */
export async function writeArchive(output: string | undefined, command: string, make: () => Readable): Promise<void> {
  if (output === undefined || output === '-') {
    refuseTerminal(1, command);
    return writeTarTo(1, make());
  }
  const tmp = path.join(path.dirname(output), `.${path.basename(output)}.tcr-${process.pid}`);
  let fd: number;
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw new TcrError(`-o ${output}: cannot create it: ${errorMessage(e)}`);
  }
  try {
    await writeTarTo(fd, make());
    fs.closeSync(fd);
    fd = -1;
    fs.renameSync(tmp, output);
  } catch (e) {
    if (fd >= 0) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
