// A run's volumes: the spec mounts its mount requests become, then, once the
// container has a directory, the volumes made (on first use), recorded as
// the container's and filled with the image's content where they are empty
// (docker's copy-up), all under the volumes' lock. A run that fails before
// its container exists undoes exactly what it did: the volumes it made go,
// and a volume that was there and empty is left empty again.
import fs from 'node:fs';
import path from 'node:path';
import { randomHex } from '../sys/random.js';
import type { Mount } from '../spec/types.js';
import type { MountRequest } from './mount-flags.js';
import { VolumeStore, readVolumeUses, writeVolumeUses, type VolumeUse } from './store.js';
import { lookupMerged, mergedDirLayers } from '../image/overlay-tree.js';

/** A request with its volume named: an anonymous one gets its random 64-hex name here, once, so both spec builds agree. */
export type NamedRequest =
  Exclude<MountRequest, { type: 'volume' }> | (Extract<MountRequest, { type: 'volume' }> & { name: string; anonymous: boolean });

export function nameVolumes(requests: MountRequest[]): NamedRequest[] {
  return requests.map((r) => (r.type === 'volume' ? { ...r, name: r.name ?? randomHex(32), anonymous: r.name === undefined } : r));
}

/** The spec mounts, parents before children (as docker sorts them), so `-v /a/b` is not hidden by a later `-v /a`. */
export function specMounts(requests: NamedRequest[], volumes: VolumeStore): Mount[] {
  const depth = (t: string) => t.split('/').length;
  return [...requests]
    .sort((a, b) => depth(a.target) - depth(b.target))
    .map((r): Mount => {
      const ro = r.readonly ? 'ro' : 'rw';
      if (r.type === 'tmpfs')
        return { destination: r.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...r.options, ro] };
      if (r.type === 'bind') return { destination: r.target, type: 'bind', source: r.source, options: ['rbind', r.propagation, ro] };
      return { destination: r.target, type: 'bind', source: volumes.dataDir(r.name), options: ['rbind', 'rprivate', ro] };
    });
}

/** What attachVolumes did, for detachVolumes to undo. */
export interface Attached {
  dir: string;
  uses: VolumeUse[];
  /** volumes this run made */
  created: string[];
  /** volumes that existed, empty, and that this run filled: their empty _data's owner and mode */
  filled: { name: string; uid: number; gid: number; mode: number }[];
}

type Flatten = (typeof import('../image/flatten.js'))['flattenLayers'];

/** Symlinks followed on the way to a volume's target at most, as the kernel's path walk (ELOOP). */
const MAX_LINKS = 40;

/**
 * `target` (relative to the root) in the image's merged view with every
 * symlink on the way followed inside the image, never out of it: an absolute
 * link starts again at the image's root, `..` stops there, as the mount itself
 * resolves it (RESOLVE_IN_ROOT). So `-v vol:/var/run` of an image whose
 * /var/run links to /run fills the volume from /run. Null: no such path.
 */
function resolveInImage(layers: string[], target: string): string | null {
  const todo = target.split('/').filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length) {
    const part = todo.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      done.pop();
      continue;
    }
    const found = lookupMerged(layers, [...done, part].join('/'));
    if (found === null) return null;
    if (!found.st.isSymbolicLink()) {
      done.push(part);
      continue;
    }
    if (++links > MAX_LINKS) return null;
    const link = fs.readlinkSync(found.abs);
    if (link.startsWith('/')) done.length = 0;
    todo.unshift(...link.split('/').filter(Boolean));
  }
  return done.join('/');
}

/**
 * Fills the empty `_data` of a volume from the image directory at `target`
 * (layers top first): owners, modes, symlinks, xattrs, times. Built beside
 * _data and renamed over it, so a failed copy leaves the volume empty. False
 * when the image has no directory there.
 */
function fillFromImage(volumes: VolumeStore, name: string, layers: string[], target: string, flatten: Flatten): boolean {
  const rel = resolveInImage(layers, target);
  const from = rel === null ? null : mergedDirLayers(layers, rel);
  if (!from) return false;
  const data = volumes.dataDir(name);
  const stage = path.join(volumes.dir(name), `.fill-${process.pid}`);
  fs.rmSync(stage, { recursive: true, force: true });
  flatten(from.map((l) => path.join(l, rel!)).reverse(), stage);
  fs.rmdirSync(data);
  fs.renameSync(stage, data);
  return true;
}

/** Makes the run's volumes, records them in the container directory `dir`, and fills the empty ones from the image (layers top first). */
export async function attachVolumes(volumes: VolumeStore, dir: string, requests: NamedRequest[], layers: string[]): Promise<Attached> {
  const wanted = requests.filter((r): r is Extract<NamedRequest, { type: 'volume' }> => r.type === 'volume');
  const done: Attached = { dir, uses: [], created: [], filled: [] };
  if (!wanted.length) return done;
  const { flattenLayers } = await import('../image/flatten.js');
  try {
    // the copy-up too is under the lock: a second run of the same empty volume waits, then finds it filled
    volumes.withLock(() => {
      for (const r of wanted) {
        const { created } = volumes.createLocked(r.name, { anonymous: r.anonymous });
        if (created) done.created.push(r.name);
        if (!done.uses.some((u) => u.name === r.name)) done.uses.push({ name: r.name, anonymous: r.anonymous });
      }
      writeVolumeUses(dir, done.uses);
      for (const r of wanted) {
        const data = volumes.dataDir(r.name);
        if (r.nocopy || fs.readdirSync(data).length) continue;
        const st = fs.statSync(data);
        if (fillFromImage(volumes, r.name, layers, r.target, flattenLayers) && !done.created.includes(r.name))
          done.filled.push({ name: r.name, uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 });
      }
    });
  } catch (e) {
    detachVolumes(volumes, done);
    throw e;
  }
  return done;
}

function undoLocked(volumes: VolumeStore, a: Attached): void {
  fs.rmSync(path.join(a.dir, 'volumes.json'), { force: true });
  for (const name of a.created) if (volumes.get(name) && !volumes.users(name).length) volumes.removeLocked(name);
  for (const f of a.filled) {
    if (!volumes.get(f.name) || volumes.users(f.name).length) continue;
    const data = volumes.dataDir(f.name);
    fs.rmSync(data, { recursive: true, force: true });
    fs.mkdirSync(data, { mode: 0o700 });
    fs.chownSync(data, f.uid, f.gid);
    fs.chmodSync(data, f.mode);
  }
}

/** A run that failed before its container existed: its record goes, and with it the volumes it made; the ones it filled are empty again. */
export function detachVolumes(volumes: VolumeStore, a: Attached): void {
  if (!a.uses.length && !readVolumeUses(a.dir).length) return;
  volumes.withLock(() => undoLocked(volumes, a));
}
