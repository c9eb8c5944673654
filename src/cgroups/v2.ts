// cgroup v2 (unified): one directory, controllers enabled down the path in
// cgroup.subtree_control, devices through an eBPF program, freeze and kill
// through cgroup.freeze and cgroup.kill.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { log } from '../log.js';
import type { Resources } from '../spec/types.js';
import { sleepMs } from '../sys/time.js';
import { deviceProgram } from './device-bpf.js';
import { deviceRules } from './devices.js';
import { readCgroupFile, readKeyValues, readPids, readSelfCgroup, removeCgroupDir, writeCgroupFile } from './files.js';
import { CGROUP_ROOT } from './detect.js';
import type { CgroupManager, CgroupRecord, CgroupSeams } from './manager.js';
import { controllersFor, v2Writes, type CgroupWrite } from './resources.js';
import { signalEachFrozen } from './signal-all.js';
import { v2Stats, type Stats } from './stats.js';

export function ownCgroup(selfCgroup: string): string {
  const line = selfCgroup.split('\n').find((l) => l.startsWith('0::'));
  return line?.slice(3) ?? '/';
}

/** As runc: net_cls and net_prio exist only in v1; packets are classified by cgroup path on v2 (nftables, BPF). */
export function warnV1Only(resources: Resources): void {
  if (resources.network && (resources.network.classID !== undefined || resources.network.priorities?.length))
    log.warn(
      'linux.resources.network: ignored on cgroup v2, which has no net_cls or net_prio controller (match the cgroup path in nftables or a BPF program instead)',
    );
}

export class V2Manager implements CgroupManager {
  private readonly root: string;

  constructor(
    readonly record: CgroupRecord,
    private readonly seams: CgroupSeams = {},
  ) {
    this.root = seams.layout?.root ?? CGROUP_ROOT;
  }

  static forPath(cgroupPath: string, seams: CgroupSeams = {}): V2Manager {
    // as runc's fs2: a relative path hangs under the parent of the runtime's own cgroup, which (being
    // a leaf with processes, a systemd service or session scope) could not enable controllers for it
    const base = cgroupPath.startsWith('/') ? '/' : path.posix.dirname(ownCgroup((seams.selfCgroup ?? readSelfCgroup)()));
    return new V2Manager({ kind: 'v2', path: cgroupPath, dirs: [path.join(seams.layout?.root ?? CGROUP_ROOT, base, cgroupPath)] }, seams);
  }

  private get dir(): string {
    return this.record.dirs[0];
  }

  create(): void {
    fs.mkdirSync(this.dir, { recursive: true });
  }

  /** Enables the controllers a write needs in every ancestor's subtree_control. */
  private enable(controllers: string[]): void {
    if (!controllers.length) return;
    const available = (readCgroupFile(this.root, 'cgroup.controllers') ?? '').split(/\s+/);
    for (const c of controllers)
      if (!available.includes(c))
        throw new TcrError(`cgroup: linux.resources needs the ${c} controller, which this host's cgroup v2 does not offer`);
    const parts = path.relative(this.root, this.dir).split('/').filter(Boolean);
    let cur = this.root;
    for (const p of parts) {
      const have = (readCgroupFile(cur, 'cgroup.subtree_control') ?? '').split(/\s+/);
      const missing = controllers.filter((c) => !have.includes(c));
      if (missing.length) writeCgroupFile(cur, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
      cur = path.join(cur, p);
    }
  }

  apply(pid: number, already?: ReadonlySet<string>): void {
    // even a write naming a process already there takes the kernel's global lock (an RCU grace period)
    if (!already?.has(this.dir)) writeCgroupFile(this.dir, 'cgroup.procs', String(pid));
  }

  async applyInit(pid: number, already?: ReadonlySet<string>): Promise<void> {
    this.apply(pid, already);
  }

  selfJoinDirs(): string[] {
    return [];
  }

  async set(resources: Resources): Promise<void> {
    warnV1Only(resources);
    await this.write(v2Writes(resources), resources.devices);
  }

  /** Carries out v2Writes (the systemd manager's, adjusted to its unit, too) and programs the devices. */
  async write(writes: CgroupWrite[], devices: Resources['devices']): Promise<void> {
    this.enable(controllersFor(writes));
    for (const x of writes) writeCgroupFile(this.dir, x.file, x.value);
    if (devices) {
      let rules;
      try {
        rules = deviceRules(devices);
      } catch (e) {
        throw new TcrError((e as Error).message);
      }
      // bpf(2) through koffi: loaded only where there is a v2 device controller to program
      const { attachDeviceProgram } = await import('../sys/bpf.js');
      attachDeviceProgram(this.dir, deviceProgram(rules));
    }
  }

  procs(): number[] {
    return readPids(this.dir);
  }

  freeze(): void {
    writeCgroupFile(this.dir, 'cgroup.freeze', '1');
    for (let i = 0; i < 1000 && readKeyValues(this.dir, 'cgroup.events').frozen !== 1; i++) sleepMs(1);
  }

  thaw(): void {
    writeCgroupFile(this.dir, 'cgroup.freeze', '0');
  }

  isFrozen(): boolean {
    return readCgroupFile(this.dir, 'cgroup.freeze')?.trim() === '1';
  }

  signalAll(signal: number): void {
    if (signal === 9 && fs.existsSync(path.join(this.dir, 'cgroup.kill'))) return writeCgroupFile(this.dir, 'cgroup.kill', '1');
    signalEachFrozen(this, signal);
  }

  stats(): Stats {
    return v2Stats(this.dir);
  }

  oomKills(): number {
    return readKeyValues(this.dir, 'memory.events').oom_kill ?? 0;
  }

  async destroy(): Promise<void> {
    removeCgroupDir(this.dir, this.seams.rmdir);
  }

  mountSources(): Map<string, string> {
    return new Map([['', this.dir]]);
  }

  unifiedDir(): string | undefined {
    return this.dir;
  }
}
