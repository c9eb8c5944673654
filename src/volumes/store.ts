// Volumes, docker's local driver's way, kept in the image store:
//   STORE/volumes/NAME/_data        what containers mount (docker's /var/lib/docker/volumes/NAME/_data)
//   STORE/volumes/NAME/volume.json  name, created-at, labels, anonymous or not
//   STORE/volumes/.lock             flock (a dot-name: no volume can be called that): create, remove and a run's claim never interleave
//   STORE/containers/ID/volumes.json  the volumes container ID mounts (written by its run, gone with tcr rm)
// A volume is in use while any container directory names it, running or
// stopped, as docker counts it: nothing a container may still need is removed.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { withFlock, writeAtomic } from '../image/store-files.js';
import { randomHex } from '../sys/random.js';
import { checkVolumeName } from './mount-flags.js';

export interface VolumeRecord {
  name: string;
  /** ISO time */
  createdAt: string;
  labels: Record<string, string>;
  /** made by -v /path or --mount without a source: removed by rm -v and run --rm */
  anonymous: boolean;
}

/** What a container's volumes.json holds. */
export interface VolumeUse {
  name: string;
  anonymous: boolean;
}

const META = 'volume.json';
const USES = 'volumes.json';

export class VolumeStore {
  readonly root: string;

  constructor(readonly storeRoot: string) {
    this.root = path.join(storeRoot, 'volumes');
  }

  dir(name: string): string {
    return path.join(this.root, name);
  }

  dataDir(name: string): string {
    return path.join(this.dir(name), '_data');
  }

  /** Runs `fn` under the volumes' lock; synchronous, so no await can slip between a check and what it guards. */
  withLock<T>(fn: () => T): T {
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    return withFlock(path.join(this.root, '.lock'), fn);
  }

  get(name: string): VolumeRecord | undefined {
    if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) return undefined;
    try {
      return JSON.parse(fs.readFileSync(path.join(this.dir(name), META), 'utf8')) as VolumeRecord;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined;
      throw e;
    }
  }

  require(name: string): VolumeRecord {
    const v = this.get(name);
    if (!v) throw new TcrError(`no such volume: ${name}`);
    return v;
  }

  list(): VolumeRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    return names
      .sort()
      .map((n) => this.get(n))
      .filter((v): v is VolumeRecord => v !== undefined);
  }

  /**
   * Makes the volume unless it exists (then it is returned as it is, as
   * docker's volume create of an existing name does). Built in a hidden
   * directory and renamed into place, so a volume is whole or absent.
   * Call under withLock.
   */
  createLocked(
    name: string,
    opts: { labels?: Record<string, string>; anonymous?: boolean } = {},
  ): { volume: VolumeRecord; created: boolean } {
    checkVolumeName(name, 'volume name');
    const existing = this.get(name);
    if (existing) return { volume: existing, created: false };
    const volume: VolumeRecord = { name, createdAt: new Date().toISOString(), labels: opts.labels ?? {}, anonymous: !!opts.anonymous };
    const stage = path.join(this.root, `.new-${name}-${process.pid}`);
    fs.rmSync(stage, { recursive: true, force: true });
    try {
      fs.mkdirSync(stage, { mode: 0o700 });
      fs.mkdirSync(path.join(stage, '_data'), { mode: 0o755 });
      writeAtomic(path.join(stage, META), JSON.stringify(volume, null, 2) + '\n', 0o600);
      fs.renameSync(stage, this.dir(name));
    } catch (e) {
      fs.rmSync(stage, { recursive: true, force: true });
      throw e;
    }
    return { volume, created: true };
  }

  create(name: string | undefined, opts: { labels?: Record<string, string> } = {}): VolumeRecord {
    return this.withLock(() => this.createLocked(name ?? randomHex(32), opts).volume);
  }

  /** The containers whose directories name this volume. */
  users(name: string): string[] {
    const root = path.join(this.storeRoot, 'containers');
    let ids: string[];
    try {
      ids = fs.readdirSync(root);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return [];
      throw e;
    }
    return ids.filter((id) => readVolumeUses(path.join(root, id)).some((u) => u.name === name)).sort();
  }

  /** `volume rm`: refused while a container uses the volume, even with force (force only forgives a missing one). */
  remove(name: string, opts: { force?: boolean } = {}): boolean {
    return this.withLock(() => {
      if (!this.get(name)) {
        if (opts.force) return false;
        throw new TcrError(`no such volume: ${name}`);
      }
      const users = this.users(name);
      if (users.length)
        throw new TcrError(
          `remove ${name}: volume is in use by container${users.length > 1 ? 's' : ''} ${users.join(', ')} (tcr rm ${users.join(' ')} first)`,
        );
      this.removeLocked(name);
      return true;
    });
  }

  /** Renamed aside first, so a half-removed volume is never found by its name. */
  removeLocked(name: string): void {
    const doomed = path.join(this.root, `.rm-${name}-${process.pid}`);
    fs.rmSync(doomed, { recursive: true, force: true });
    fs.renameSync(this.dir(name), doomed);
    fs.rmSync(doomed, { recursive: true, force: true });
  }

  /** `volume prune`: the unused anonymous volumes; with all, every unused one (docker 23's default and -a). */
  prune(all: boolean): string[] {
    return this.withLock(() => {
      const gone: string[] = [];
      for (const v of this.list()) {
        if ((!all && !v.anonymous) || this.users(v.name).length) continue;
        this.removeLocked(v.name);
        gone.push(v.name);
      }
      return gone;
    });
  }

  /**
   * The anonymous volumes among `uses` that no container names any more
   * (rm -v, run --rm): a named volume is never removed here, nor one that
   * another container still mounts.
   */
  removeAnonymous(uses: VolumeUse[]): string[] {
    const anonymous = uses.filter((u) => u.anonymous);
    if (!anonymous.length) return [];
    return this.withLock(() =>
      anonymous
        .filter((u) => this.get(u.name)?.anonymous && !this.users(u.name).length)
        .map((u) => {
          this.removeLocked(u.name);
          return u.name;
        }),
    );
  }
}

/** The volumes the container whose directory is `dir` mounts (none when it has no record). */
export function readVolumeUses(dir: string): VolumeUse[] {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(dir, USES), 'utf8')) as { volumes?: unknown };
    if (!Array.isArray(rec.volumes)) return [];
    return rec.volumes
      .filter((u): u is VolumeUse => typeof (u as VolumeUse)?.name === 'string')
      .map((u) => ({ name: u.name, anonymous: !!u.anonymous }));
  } catch {
    return [];
  }
}

export function writeVolumeUses(dir: string, uses: VolumeUse[]): void {
  writeAtomic(path.join(dir, USES), JSON.stringify({ volumes: uses }) + '\n', 0o600);
}
