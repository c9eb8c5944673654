// Serialises commands on one container id: an exclusive flock on a file in
// the container's state directory, held for the length of the command.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../sys/native.js';
import { errnoCode } from '../errors.js';

export class ContainerLock {
  private constructor(private fd: number) {}

  /** Blocks until no other tcr command holds this container. Null if the container vanished. */
  static acquire(dir: string): ContainerLock | null {
    let fd: number;
    try {
      fd = fs.openSync(path.join(dir, 'lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return null;
      throw e;
    }
    native().flock(fd, true);
    // a delete that held the lock before us removes the directory
    if (!fs.existsSync(dir)) {
      fs.closeSync(fd);
      return null;
    }
    return new ContainerLock(fd);
  }

  release(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}
