// Serialises commands on one container id: an exclusive flock on a file in
// the container's state directory, held for the length of the command.
// A launch keeps every lock fd of this process out of its container, even
// where a --preserve-fds range covers numbers the caller never opened (a
// library's: Node's own fds are there): the container would hold the lock
// for as long as it lived.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../sys/native.js';
import { errnoCode } from '../errors.js';

/** the fds of every lock this process holds: a launch keeps them from its container (Executor.spawn) */
const held = new Set<number>();

export class ContainerLock {
  private constructor(private fd: number) {
    held.add(fd);
  }

  /** The fds of the locks this process holds now, of any container. */
  static heldFds(): number[] {
    return [...held];
  }

  /** Blocks until no other tcr command holds this container. Null if the container vanished. */
  static acquire(dir: string): ContainerLock | null {
    const file = path.join(dir, 'lock');
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
    return new ContainerLock(fd);
  }

  release(): void {
    if (this.fd < 0) return;
    held.delete(this.fd);
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
