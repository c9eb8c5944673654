// `tcr rename OLD NEW`. A stopped container known by its id moves: tcr's
// container id is its name, so the state directory <root>/ID and the
// store's <store>/containers/ID both move, and every path of the record, the
// bundle's config.json and the image-use record that names them is
// rewritten. A running container (or one whose directories cannot move)
// keeps its id, as docker's does, and gets a name (src/container/names.ts):
// its mounts, netns pin, cgroup, monitor and health checker all know it by
// its id, and a name only the command line reads changes nothing under
// them. Either way the names its network's hosts files and DNS give it
// follow, and its launch.json's, which its monitor reads at each restart.
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
import { monitorAlive, readLaunchFile, writeLaunchFile } from './monitor-files.js';
import { dropNames, nameOf, nameTaken, setName } from '../container/names.js';

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
  renameInNetwork(next.network, rec, rec.id, newId);
  return next;
}

/** The names the network's hosts files and DNS give it: the container name follows, the host name stays (as docker's). */
function renameInNetwork(network: NetworkRecord | undefined, rec: ContainerRecord, oldName: string, newName: string): void {
  const hostname = rec.config.hostname ?? rec.id.slice(0, 12);
  for (const a of attachmentsOf(network)) {
    const aliases = a.hosts.names.filter((n) => n !== hostname && n !== oldName);
    a.hosts.names = [...new Set([hostname, newName, ...aliases])];
  }
}

/** A running container's rename: the id stays, the name changes; under the container's lock. */
async function renameInPlace(rt: Runtime, storeRoot: string, rec: ContainerRecord, oldName: string, newName: string): Promise<void> {
  const root = rt.store.root;
  // taken first: of two renames to one name, one fails here before changing anything
  if (newName === rec.id) dropNames(root, rec.id);
  else setName(root, rec.id, newName);
  renameInNetwork(rec.network, rec, oldName, newName);
  rt.store.write(rec);
  const storeDir = path.join(storeRoot, 'containers', rec.id);
  const plan = readLaunchFile(storeDir);
  if (plan?.network) {
    renameInNetwork(plan.network, rec, oldName, newName);
    writeLaunchFile(storeDir, plan);
  }
  const { refreshNames } = await import('../network/hosts.js');
  for (const a of attachmentsOf(rec.network)) if (a.shareNames) await refreshNames(rt.store, a);
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

/** Waits (a while) for a container its monitor is restarting: between two launches it has no record. */
async function betweenLaunches(rt: Runtime, storeRoot: string, id: string): Promise<void> {
  const launchFile = path.join(storeRoot, 'containers', id, 'launch.json');
  for (let i = 0; i < 200 && !rt.store.exists(id) && fs.existsSync(rt.store.dir(id)) && fs.existsSync(launchFile); i++)
    await new Promise((r) => setTimeout(r, 50));
}

export async function renameContainer(rt: Runtime, storeRoot: string, oldId: string, newId: string): Promise<void> {
  if (!validName(newId))
    throw new TcrError(
      `invalid container name (${newId}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters, the first a letter or digit`,
    );
  await betweenLaunches(rt, storeRoot, oldId);
  const oldName = nameOf(rt.store.root, oldId);
  if (oldName === newId) throw new TcrError(`renaming a container with the same name as its current name: ${newId}`);
  rt.store.read(oldId); // "does not exist"
  const inUse = () => new TcrError(`the container name ${JSON.stringify(newId)} is already in use (tcr rm ${newId})`);
  if (nameTaken(rt.store.root, newId)) throw inUse();
  const oldLock = ContainerLock.acquire(rt.store.dir(oldId));
  if (!oldLock) throw new TcrError(`container ${oldName} does not exist`);
  let newLock: ContainerLock | undefined;
  try {
    const rec = rt.store.read(oldId);
    const status = deriveStatus(rec, rt.store);
    const oldStore = path.join(storeRoot, 'containers', oldId);
    const newStore = path.join(storeRoot, 'containers', newId);
    // the directories move only for a stopped container known by its id, where nothing holds the new name's
    const movable =
      status === 'stopped' &&
      oldName === oldId &&
      // a monitor waiting to restart it knows its id
      !monitorAlive(rt.store.dir(oldId)) &&
      !fs.existsSync(rt.store.dir(newId)) &&
      !fs.existsSync(newStore);
    if (!movable && status === 'creating') throw new TcrError(`cannot rename container ${oldName}: it is still being created`);
    if (!movable) return await renameInPlace(rt, storeRoot, rec, oldName, newId);
    if (fs.existsSync(newStore)) throw inUse();
    try {
      newLock = rt.store.claim(newId);
    } catch (e) {
      throw e instanceof TcrError ? inUse() : e;
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
        renameInNetwork(plan.network, rec, rec.id, newId);
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
