// Where containers are recorded: one directory per id under --root, holding
// state.json (written atomically, *before* each resource it names is made,
// so a crash at any instant leaves enough to undo), the exec fifo and a lock.
// The config the container was made from is config.json beside it, read only
// by the commands that use it: `list` of a thousand containers then parses
// a few hundred bytes each instead of a whole spec (bench/scale.js).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import type { Spec } from '../spec/types.js';
import type { CgroupRecord } from '../cgroups/manager.js';
import type { HostCleanup } from './host-mounts.js';
import type { NetworkRecord } from '../network/record.js';
import { removeTree } from '../sys/remove-tree.js';
import { native } from '../sys/native.js';
import { ContainerLock } from './lock.js';
import { dropNames } from './names.js';

import { defaultStateRoot } from './state-root.js';
import { inUserNamespace } from '../linux/userns.js';

export const DEFAULT_ROOT = defaultStateRoot();

export interface ContainerRecord {
  ociVersion: string;
  id: string;
  bundle: string;
  rootfs: string;
  /** "creating" until the init reported ready; "created" after */
  phase: 'creating' | 'created';
  /** the init's pid in the runtime's pid namespace (0 until cloned) */
  pid: number;
  /** the init's start time (field 22 of /proc/PID/stat), so a reused pid is not mistaken for it */
  startTime: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
  /** the config the container was created from (poststop hooks read it at delete) */
  config: Spec;
  /** the pid namespace inode of the init (when it has its own), to find its processes */
  pidNamespace?: string;
  /** the container's cgroup, recorded before it is made */
  cgroup?: CgroupRecord;
  /** host mounts and directories of an image container, recorded before they are made */
  hostCleanup?: HostCleanup;
  /** an image container's bridge networking (src/network/), recorded before it is made */
  network?: NetworkRecord;
}

export type RecordSummary = Omit<ContainerRecord, 'config'>;

const ID_PATTERN = /^[\w+\-.]+$/;
/** the text of each record's config.json as this process last read or wrote it: written again only when changed */
const configOnDisk = new WeakMap<ContainerRecord, string>();
/** A directory being removed: `.removing-PID-ID` (a dot-name: no container's) */
const REMOVING = '.removing-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) !== 'ESRCH';
  }
}

export function validateId(id: string): void {
  if (!id) throw new TcrError('container id cannot be empty');
  if (!ID_PATTERN.test(id) || id === '.' || id === '..' || id.length > 1024)
    throw new TcrError(`invalid container id ${JSON.stringify(id)}: use letters, digits, "_", "+", "-" and "."`);
}

/** Write then rename: a reader (or a crash) sees the old file or the new one, never half. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  // Replacing a file by rename makes ext4 (auto_da_alloc) write the new one
  // out first: a flush on every state update where the state root is on disk.
  // Swapping the two names (RENAME_EXCHANGE) is as atomic for readers and
  // skips that.
  if (fs.existsSync(file)) {
    let swapped = false;
    try {
      native().exchange(tmp, file);
      swapped = true;
    } catch {
      // a file system without RENAME_EXCHANGE: a plain rename below
    }
    if (swapped) {
      fs.unlinkSync(tmp); // the old content, under the temporary name
      return;
    }
  }
  fs.renameSync(tmp, file);
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    return path.join(this.root, id);
  }

  stateFile(id: string): string {
    return path.join(this.dir(id), 'state.json');
  }

  configFile(id: string): string {
    return path.join(this.dir(id), 'config.json');
  }

  fifo(id: string): string {
    return path.join(this.dir(id), 'exec.fifo');
  }

  /**
   * Claims the id and returns its lock, held; fails if a container of that id
   * exists. A directory without a record (a create killed before its first
   * write) is no container: it is taken over once its lock is ours, so a
   * create still running, which holds that lock, is waited for first.
   */
  claim(id: string): ContainerLock {
    validateId(id);
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
      // a root that exists but is not ours (root's /run/tcr, seen from a user namespace) fails here, not above
      fs.accessSync(this.root, fs.constants.W_OK | fs.constants.X_OK);
    } catch (e) {
      const code = errnoCode(e);
      if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw e;
      const uid = process.geteuid?.() ?? 0;
      const user =
        uid !== 0
          ? ` (uid ${uid}'s default is $XDG_RUNTIME_DIR/tcr, else /run/user/${uid}/tcr: set XDG_RUNTIME_DIR to a directory of yours)`
          : inUserNamespace()
            ? " (root of a user namespace that is not the host's, as under rootless podman: the default is $XDG_RUNTIME_DIR/tcr; set XDG_RUNTIME_DIR to a directory of the user's)"
            : '';
      throw new TcrError(`--root ${this.root}: cannot make the state directory: ${code}${user}; or pass --root DIR`);
    }
    for (;;) {
      try {
        fs.mkdirSync(this.dir(id), { mode: 0o711 });
      } catch (e) {
        if (errnoCode(e) !== 'EEXIST') throw e;
      }
      const lock = ContainerLock.acquire(this.dir(id));
      if (!lock) continue; // removed while we waited: make it anew
      if (!this.exists(id)) return lock;
      lock.release();
      throw new TcrError(`container with id ${id} already exists`);
    }
  }

  exists(id: string): boolean {
    return fs.existsSync(this.stateFile(id));
  }

  /** config.json first: a state.json on disk always has its config */
  write(rec: ContainerRecord): void {
    // own enumerable properties only: a config never read (still its lazy getter) is left out, and unchanged on disk
    const state: Partial<ContainerRecord> = { ...rec };
    if (state.config !== undefined) {
      const text = JSON.stringify(state.config);
      if (configOnDisk.get(rec) !== text) {
        writeFileAtomic(this.configFile(rec.id), text);
        configOnDisk.set(rec, text);
      }
      delete state.config;
    }
    writeFileAtomic(this.stateFile(rec.id), JSON.stringify(state));
  }

  read(id: string): ContainerRecord {
    const rec = this.summary(id) as ContainerRecord;
    // a record of an earlier tcr holds its config itself: written apart at its next write
    if (rec.config === undefined) this.configOnFirstUse(rec);
    return rec;
  }

  /** The record without its config (never read): what `list` needs of each container. */
  summary(id: string): RecordSummary {
    validateId(id);
    let text: string;
    try {
      text = fs.readFileSync(this.stateFile(id), 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw new TcrError(`container ${id} does not exist`);
      throw e;
    }
    try {
      return JSON.parse(text) as RecordSummary;
    } catch {
      throw new TcrError(`${this.stateFile(id)}: corrupt state file`);
    }
  }

  /** rec.config reads config.json when first used; assigned, it is simply the new value */
  private configOnFirstUse(rec: ContainerRecord): void {
    const file = this.configFile(rec.id);
    const settle = (config: Spec) =>
      Object.defineProperty(rec, 'config', { value: config, writable: true, enumerable: true, configurable: true });
    Object.defineProperty(rec, 'config', {
      configurable: true,
      enumerable: false,
      get: () => {
        let text: string;
        try {
          text = fs.readFileSync(file, 'utf8');
        } catch (e) {
          throw new TcrError(`${file}: cannot read the container's config: ${errnoCode(e) ?? String(e)}`);
        }
        let config: Spec;
        try {
          config = JSON.parse(text) as Spec;
        } catch {
          throw new TcrError(`${file}: corrupt config file`);
        }
        configOnDisk.set(rec, text);
        settle(config);
        return config;
      },
      set: settle,
    });
  }

  /** Ids of every recorded container, including half-made ones. */
  ids(): string[] {
    try {
      // dot-directories are the runtime's own (the seccomp cache), never containers
      return fs
        .readdirSync(this.root, { withFileTypes: true })
        .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
        .map((d) => d.name)
        .sort();
    } catch {
      return [];
    }
  }

  /**
   * Removes the container's directory. It is renamed away first, in one
   * step: a command that opens its lock meanwhile finds it gone, where
   * emptying it in place let that open re-make `lock` before the rmdir and
   * left the directory behind, holding only that. What a removal killed
   * half-way left (its pid is gone) is removed by the next one.
   */
  remove(id: string, keepName = false): void {
    const doomed = path.join(this.root, `${REMOVING}${process.pid}-${id}`);
    try {
      fs.renameSync(this.dir(id), doomed);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      return;
    }
    removeTree(doomed);
    if (!keepName) dropNames(this.root, id); // a name given by rename goes with it
    for (const name of fs.readdirSync(this.root)) {
      const pid = name.startsWith(REMOVING) ? Number(name.slice(REMOVING.length).split('-')[0]) : 0;
      if (pid > 0 && !pidAlive(pid)) removeTree(path.join(this.root, name));
    }
  }
}
