// `start`'s half of the exec fifo: the created init blocks opening the fifo
// for writing, writes one byte once start opens it for reading, and keeps the
// write end until its exec (close-on-exec) when poststart hooks must follow
// the exec, or else until start has exited. Start reads that byte (the init
// was released), then, for the hooks, end of file (the program was executed).
import fs from 'node:fs';
import { TcrError, errnoCode } from '../errors.js';
import { sleepMs } from '../sys/time.js';

export const INIT_GONE =
  'cannot start a container that has stopped (its init exited while start was releasing it, before it had taken the exec fifo)';

/**
 * Waits for the init's byte. A short command can take the fifo, write, run
 * and exit between a read that found nothing and the liveness check: its byte
 * then waits in the fifo (held open by the reader), so one more read decides,
 * and a byte it finds counts (a loop that read it and then read again saw end
 * of file and called a container that ran "stopped").
 */
export function awaitInitByte(readByte: () => boolean, initAlive: () => boolean, pause: () => void): void {
  for (;;) {
    if (readByte()) return;
    if (!initAlive()) {
      if (readByte()) return;
      throw new TcrError(INIT_GONE);
    }
    pause();
  }
}

export interface Release {
  /** return only once the init has exec'd (or died, which state reports): for poststart hooks */
  awaitExec: boolean;
  /**
   * leave the read end open for the kernel to close when this process exits
   * (a command's `start`): the init goes on only then, so its program never
   * runs before the caller has seen `start` return
   */
  closeAtExit?: boolean;
}

/**
 * Releases the init waiting on the fifo. Without `awaitExec` it returns at
 * once, and the init waits for the read end to close (no reader left) before
 * it goes on.
 */
export function releaseExecFifo(fifo: string, initAlive: () => boolean, o: Release): void {
  // non-blocking, so a dead init cannot leave `start` waiting forever
  const fd = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(1);
  /** 1: a byte, 0: end of file (no writer), -1: nothing yet */
  const read = (): number => {
    try {
      return fs.readSync(fd, buf, 0, 1, null);
    } catch (e) {
      if (errnoCode(e) !== 'EAGAIN') throw e;
      return -1;
    }
  };
  try {
    awaitInitByte(
      () => read() === 1,
      initAlive,
      () => sleepMs(0.1),
    ); // the init writes as soon as it is scheduled
    if (o.awaitExec) for (let wait = 0.05; read() !== 0; wait = Math.min(wait * 2, 5)) sleepMs(wait);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
  // after an awaited exec the init holds no end any more: keeping ours changes nothing
  if (!o.closeAtExit) fs.closeSync(fd);
}
