// `tcr rename OLD NEW`. tcr's container id is its name: the state directory
// <root>/ID and the store's <store>/containers/ID both move, and every path
// of the record, the bundle's config.json and the image-use record that
// names them is rewritten. Only a stopped container is renamed: a running
// one has processes (a -d --rm reaper, the init's monitor) that know it by
// its old id, which no rename could tell.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import type { Runtime } from '../container/runtime.js';
import { ContainerLock } from '../container/lock.js';
import { deriveStatus } from '../container/status.js';
import { managerFromRecord } from '../cgroups/manager.js';
import { native } from '../sys/native.js';
import { validName } from '../cli/run-checks.js';
import type { ContainerRecord } from '../container/state-store.js';
import { attachmentsOf, type NetworkRecord } from '../network/record.js';
import { readLaunchFile, writeLaunchFile } from './monitor-files.js';

/** Every string of `value` at or under `from` (a path) rewritten to start with `to`. */
function movePaths<T>(value: T, moves: [string, string][]): T {
  const one = (s: string) => {
    for (const [from, to] of moves) if (s === from || s.startsWith(from + '/')) return to + s.slice(from.length);
    return s;
  };
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return one(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

function renamedRecord(rec: ContainerRecord, newId: string, moves: [string, string][]): ContainerRecord {
  const next = movePaths(rec, moves);
  next.id = newId;
  // the names the network's hosts files give it: the container name follows, the host name stays (as docker's)
  renameInNetwork(next.network, rec, newId);
  return next;
}

/** The names the network's hosts files and DNS give it: the container name follows, the host name stays (as docker's). */
function renameInNetwork(network: NetworkRecord | undefined, rec: ContainerRecord, newId: string): void {
  const hostname = rec.config.hostname ?? rec.id.slice(0, 12);
  for (const a of attachmentsOf(network)) {
    const aliases = a.hosts.names.filter((n) => n !== hostname && n !== rec.id);
    a.hosts.names = [...new Set([hostname, newId, ...aliases])];
  }
}

function rewriteJson(file: string, moves: [string, string][]): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  fs.writeFileSync(file, JSON.stringify(movePaths(JSON.parse(text) as unknown, moves), null, 2));
}

export async function renameContainer(rt: Runtime, storeRoot: string, oldId: string, newId: string): Promise<void> {
  if (!validName(newId))
    throw new TcrError(
      `invalid container name (${newId}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters, the first a letter or digit`,
    );
  if (oldId === newId) throw new TcrError(`renaming a container with the same name as its current name: ${newId}`);
  rt.store.read(oldId); // "does not exist"
  const oldLock = ContainerLock.acquire(rt.store.dir(oldId));
  if (!oldLock) throw new TcrError(`container ${oldId} does not exist`);
  let newLock: ContainerLock | undefined;
  try {
    const rec = rt.store.read(oldId);
    const status = deriveStatus(rec, rt.store);
    if (status !== 'stopped')
      throw new TcrError(
        `cannot rename container ${oldId}: it is ${status}, and tcr renames only stopped containers (its processes know it by its id): tcr stop ${oldId} first`,
      );
    const oldStore = path.join(storeRoot, 'containers', oldId);
    const newStore = path.join(storeRoot, 'containers', newId);
    if (fs.existsSync(newStore)) throw new TcrError(`the container name ${JSON.stringify(newId)} is already in use (tcr rm ${newId})`);
    try {
      newLock = rt.store.claim(newId);
    } catch (e) {
      throw e instanceof TcrError ? new TcrError(`the container name ${JSON.stringify(newId)} is already in use (tcr rm ${newId})`) : e;
    }
    // a stopped container never runs again: its empty cgroup goes now, so that a new container
    // of the old name does not find it (a cgroup v2 directory cannot be renamed)
    if (rec.cgroup) {
      const cg = managerFromRecord(rec.cgroup);
      if (cg.procs().length) throw new TcrError(`cannot rename container ${oldId}: processes are left in its cgroup (tcr rm -f ${oldId})`);
      await cg.destroy();
      delete rec.cgroup;
      rt.store.write(rec);
    }
    const moves: [string, string][] = [
      [rt.store.dir(oldId), rt.store.dir(newId)],
      [oldStore, newStore],
    ];
    const next = renamedRecord(rec, newId, moves);
    // both state directories swap in one step: NEW now holds the container (its lock, which we
    // hold, with it), OLD the empty claimed directory, removed before any lock is let go
    native().exchange(rt.store.dir(oldId), rt.store.dir(newId));
    const hasStoreDir = fs.existsSync(oldStore);
    try {
      if (hasStoreDir) fs.renameSync(oldStore, newStore);
    } catch (e) {
      native().exchange(rt.store.dir(oldId), rt.store.dir(newId));
      rt.store.remove(newId);
      throw new TcrError(`rename ${oldStore} to ${newStore}: ${(e as Error).message}`);
    }
    rt.store.write(next);
    if (hasStoreDir) {
      rewriteJson(path.join(newStore, 'config.json'), moves);
      rewriteJson(path.join(newStore, 'image.json'), moves);
      // its monitor's plan, from which tcr start launches it again: the network record's paths and names
      rewriteJson(path.join(newStore, 'launch.json'), moves);
      const plan = readLaunchFile(newStore);
      if (plan?.network) {
        renameInNetwork(plan.network, rec, newId);
        writeLaunchFile(newStore, plan);
      }
    }
    rt.store.remove(oldId);
    // the others' hosts files and, on a user network, what its DNS answers
    const { refreshNames } = await import('../network/hosts.js');
    for (const a of attachmentsOf(next.network)) if (a.shareNames) await refreshNames(rt.store, a);
  } finally {
    newLock?.release();
    oldLock.release();
  }
}
