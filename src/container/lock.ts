// Serialises commands on one container id: an exclusive flock on a file in
// the container's state directory, held for the length of the command.
// A launch keeps every lock fd of this process out of its container, even
// where a --preserve-fds range covers numbers the caller never opened (a
// library's: Node's own fds are there): the container would hold the lock
// for as long as it lived.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../sys/native.js';
import { TcrError, errnoCode } from '../errors.js';

/** every lock this process holds, by its file: a launch keeps their fds from its container (Executor.spawn) */
const held = new Map<string, number>();

export class ContainerLock {
  private constructor(
    private fd: number,
    private readonly file: string,
  ) {
    held.set(file, fd);
  }

  /** The fds of the locks this process holds now, of any container. */
  static heldFds(): number[] {
    return [...held.values()];
  }

  /** Blocks until no other tcr command holds this container. Null if the container vanished. */
  static acquire(dir: string): ContainerLock | null {
    const file = path.resolve(dir, 'lock');
    // flock(2) would wait for this process's own lock for ever: two calls of a library on one id at once
    if (held.has(file)) throw new TcrError(`container ${path.basename(dir)}: another call of this process is changing it`);
    let fd: number;
    try {
      fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw e;
    }
    native().flock(fd, true);
    // a delete that held the lock before us renamed the directory away (and a
    // create may have made a new one of the same name since): the lock is ours
    // only if the name still leads to the file we locked
    const now = inodeOf(file);
    if (now === null || now !== fs.fstatSync(fd).ino) {
      fs.closeSync(fd);
      return null;
    }
    return new ContainerLock(fd, file);
  }

  release(): void {
    if (this.fd < 0) return;
    held.delete(this.file);
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function inodeOf(file: string): number | null {
  try {
    return fs.statSync(file).ino;
  } catch {
    return null;
  }
}
