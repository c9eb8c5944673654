// Operations on a recorded container: state, start, kill, delete. Each one
// holds the container's lock, derives the status afresh from the kernel and
// refuses what runc refuses, with runc's words.
import fs from 'node:fs';
import { TcrError, errorMessage, errnoCode } from '../errors.js';
import { log } from '../log.js';
import type { OciState, Resources } from '../spec/types.js';
import type { Stats } from '../cgroups/stats.js';
import { runHooksPastFailures } from './hooks.js';
import { managerFromRecord } from '../cgroups/manager.js';
import { ContainerLock } from './lock.js';
import { isSameLiveProcess, pidsInNamespace, waitGone } from './proc.js';
import { sleepMs } from '../sys/time.js';
import { parseSignal } from './signals.js';
import type { ContainerRecord, StateStore } from './state-store.js';
import { deriveStatus, ociState, type Status } from './status.js';
import { unlinkQuiet } from '../sys/remove-tree.js';
import { releaseExecFifo } from './exec-fifo.js';
import { startWaitsForExec } from '../linux/start-wait.js';

const KILL_WAIT_MS = 10_000;

export class Container {
  constructor(
    readonly id: string,
    private readonly store: StateStore,
  ) {}

  /** Runs fn under the container's lock; a promise keeps the lock until it settles. */
  private locked<T>(fn: () => T): T {
    this.store.read(this.id); // a clear error when there is no such container
    const lock = ContainerLock.acquire(this.store.dir(this.id));
    if (!lock) throw new TcrError(`container ${this.id} does not exist`);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      lock.release();
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => lock.release()) as T;
    lock.release();
    return result;
  }

  record(): ContainerRecord {
    return this.store.read(this.id);
  }

  status(): Status {
    return deriveStatus(this.record(), this.store);
  }

  state(): OciState & Record<string, unknown> {
    const rec = this.record();
    return ociState(rec, deriveStatus(rec, this.store));
  }

  /**
   * Releases the init blocked on the exec fifo; with poststart hooks, waits
   * for its exec and runs them. `closeAtExit`: see Release (exec-fifo.ts).
   */
  start(o: { closeAtExit?: boolean } = {}): void {
    this.locked(() => {
      const rec = this.record();
      const status = deriveStatus(rec, this.store);
      if (status === 'stopped') throw new TcrError('cannot start a container that has stopped');
      if (status !== 'created') throw new TcrError(`cannot start an already ${status} container`);
      const fifo = this.store.fifo(this.id);
      releaseExecFifo(fifo, () => isSameLiveProcess(rec.pid, rec.startTime), {
        awaitExec: startWaitsForExec(rec.config.hooks),
        closeAtExit: o.closeAtExit,
      });
      unlinkQuiet(fifo);
      this.runPoststart(rec);
    });
  }

  runPoststart(rec: ContainerRecord): void {
    runHooksPastFailures('poststart', rec.config.hooks?.poststart, ociState(rec, 'running'), (m) => log.warn(m));
  }

  kill(signal: string | number = 'SIGTERM', all = false): void {
    const sig = typeof signal === 'number' ? signal : parseSignal(signal);
    this.locked(() => {
      const rec = this.record();
      const status = deriveStatus(rec, this.store);
      // --all of a container whose init has exited still reaches what is left in its cgroup (the
      // children of a container without its own pid namespace), as runc does: the shim relies on it
      if (all && rec.cgroup && status === 'stopped') return managerFromRecord(rec.cgroup).signalAll(sig);
      if (status === 'stopped' || status === 'creating') throw new TcrError('container not running');
      if (all && rec.cgroup) return managerFromRecord(rec.cgroup).signalAll(sig);
      const pids = all ? this.ownPids(rec) : [rec.pid];
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch (e) {
          if (errnoCode(e) !== 'ESRCH') throw new TcrError(`kill ${pid}: ${errorMessage(e)}`);
        }
      }
    });
  }

  /**
   * The init and every process of its pid namespace, while they are still
   * this container's. A namespace's id (its nsfs inode) and a pid are both
   * given out again once freed, soon, to another container: only a live init
   * pins them, so the list counts only if the init lives before and after it
   * is read (a delete --force beside a busy machine's creates once killed a
   * new container's init this way).
   */
  private ownPids(rec: ContainerRecord): number[] {
    if (!isSameLiveProcess(rec.pid, rec.startTime)) return [];
    const inNs = rec.pidNamespace ? pidsInNamespace(rec.pidNamespace) : [];
    if (!isSameLiveProcess(rec.pid, rec.startTime)) return [];
    return [rec.pid, ...inNs.filter((p) => p !== rec.pid)];
  }

  private cgroupOf(rec: ContainerRecord) {
    if (!rec.cgroup)
      throw new TcrError(
        `container ${this.id} has no cgroup${rec.owner !== 'root' ? ` (an ordinary user's container gets one only in a cgroup v2 subtree delegated to ${rec.owner})` : ''}`,
      );
    return managerFromRecord(rec.cgroup);
  }

  pause(): void {
    this.locked(() => {
      const rec = this.record();
      const status = deriveStatus(rec, this.store);
      if (status !== 'running' && status !== 'created') throw new TcrError(`cannot pause a container that is ${status}`);
      this.cgroupOf(rec).freeze();
    });
  }

  resume(): void {
    this.locked(() => {
      const rec = this.record();
      if (deriveStatus(rec, this.store) !== 'paused') throw new TcrError('container not paused');
      this.cgroupOf(rec).thaw();
    });
  }

  /** Pids of every process in the container's cgroup, as the host numbers them. */
  pids(): number[] {
    const rec = this.record();
    if (deriveStatus(rec, this.store) === 'stopped') return [];
    // a rootless container without a cgroup: its pid namespace's processes
    return rec.cgroup ? this.cgroupOf(rec).procs() : this.ownPids(rec);
  }

  stats(): Stats {
    return this.cgroupOf(this.record()).stats();
  }

  oomKills(): number {
    return this.cgroupOf(this.record()).oomKills();
  }

  /** Applies new resource limits and records them, so later updates start from them. */
  async update(resources: Resources): Promise<void> {
    const lock = ContainerLock.acquire(this.store.dir(this.id));
    if (!lock) throw new TcrError(`container ${this.id} does not exist`);
    try {
      const rec = this.record();
      if (deriveStatus(rec, this.store) === 'stopped') throw new TcrError(`cannot update a container that is stopped`);
      await this.cgroupOf(rec).set(resources);
      const linux = (rec.config.linux ??= {});
      linux.resources = mergeResources(linux.resources ?? {}, resources);
      this.store.write(rec);
    } finally {
      lock.release();
    }
  }

  /** Removes the container; a running one only with force. Poststop hooks run for created containers. */
  /**
   * A stopped image container gives its address, ports and NAT rules back
   * (docker does at stop): `run` without --rm after the exit, `tcr stop`.
   * The record loses its network only once the DEL succeeded.
   */
  async releaseNetwork(): Promise<void> {
    // a container removed meanwhile (by a -d --rm reaper, or rm) took its network with it
    const lock = ContainerLock.acquire(this.store.dir(this.id));
    if (!lock) return;
    try {
      if (!this.store.exists(this.id)) return;
      const rec = this.record();
      if (!rec.network || deriveStatus(rec, this.store) !== 'stopped') return;
      await (await import('../network/attach.js')).detachNetwork(this.store, rec);
      delete rec.network;
      this.store.write(rec);
    } finally {
      lock.release();
    }
  }

  /** `keepName`: a launch forgotten before the next (src/run/forget-launch.ts): the name rename gave it stays */
  async delete(force = false, keepName = false): Promise<void> {
    let rec: ContainerRecord;
    try {
      rec = this.record();
    } catch (e) {
      // a directory without state: a create that crashed before recording anything
      if (force && fs.existsSync(this.store.dir(this.id))) return this.store.remove(this.id);
      throw e;
    }
    await this.locked(async () => {
      const status = deriveStatus(rec, this.store);
      if ((status === 'running' || status === 'paused') && !force)
        throw new TcrError(`cannot delete container ${this.id} that is not stopped: ${status}`);
      if (status !== 'stopped') this.killAndWait(rec);
      if (rec.cgroup) await this.emptyAndRemoveCgroup(rec);
      // its processes are gone; the namespace pin keeps what the CNI plugins' DEL must find
      if (rec.network) await (await import('../network/attach.js')).detachNetwork(this.store, rec);
      // loaded only here: the mount side is none of the other lifecycle commands' business
      if (rec.hostCleanup) (await import('./host-mounts.js')).undoHostMounts(rec.hostCleanup);
      if (rec.phase === 'created')
        runHooksPastFailures('poststop', rec.config.hooks?.poststop, ociState(rec, 'stopped'), (m) => log.warn(m));
      this.store.remove(this.id, keepName);
    });
  }

  /** Kills what is left in the container's cgroup (a half-made create's too) and removes it. */
  private async emptyAndRemoveCgroup(rec: ContainerRecord): Promise<void> {
    const cg = managerFromRecord(rec.cgroup!);
    if (cg.isFrozen()) cg.thaw();
    for (let i = 0; i < 500 && cg.procs().length; i++) {
      cg.signalAll(9);
      sleepMs(2);
    }
    await cg.destroy();
  }

  private killAndWait(rec: ContainerRecord): void {
    if (rec.cgroup) managerFromRecord(rec.cgroup).signalAll(9);
    for (const pid of this.ownPids(rec)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone already
      }
    }
    if (!waitGone(rec.pid, rec.startTime, KILL_WAIT_MS))
      throw new TcrError(`container ${this.id}: init ${rec.pid} did not die after SIGKILL`);
  }
}

function mergeResources(old: Resources, upd: Resources): Resources {
  const out: Record<string, unknown> = { ...old };
  for (const [k, v] of Object.entries(upd)) {
    const prev = (old as Record<string, unknown>)[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? { ...prev, ...v } : v;
  }
  return out;
}
