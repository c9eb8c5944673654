// cgroup v1 and hybrid hosts: one directory per hierarchy (cpu, memory,
// pids, ...), and on hybrid hosts the cgroup2 mount too, so the container is
// tracked there as runc does. Resources go to the hierarchy of their controller.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errorMessage } from '../errors.js';
import type { Resources } from '../spec/types.js';
import type { CgroupLayout } from './detect.js';
import { deviceRules } from './devices.js';
import { readCgroupFile, readKeyValues, readPids, readSelfCgroup, removeCgroupDir, writeCgroupFile } from './files.js';
import type { CgroupManager, CgroupRecord, CgroupSeams } from './manager.js';
import { v1Writes, v2Writes } from './resources.js';
import { signalEachFrozen } from './signal-all.js';
import { v1Stats, type Stats } from './stats.js';
import { sleepMs } from '../sys/time.js';

/** One line of /proc/self/cgroup: a hierarchy's controllers (none for cgroup2) and the process's cgroup in it. */
interface OwnCgroup {
  controllers: string[];
  path: string;
}

function ownCgroups(selfCgroup: string): OwnCgroup[] {
  const out: OwnCgroup[] = [];
  for (const line of selfCgroup.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line);
    if (m) out.push({ controllers: m[1] ? m[1].split(',') : [], path: m[2] });
  }
  return out;
}

/**
 * Where a relative cgroupsPath hangs in one hierarchy: under the runtime's own
 * cgroup there. /proc/self/cgroup names a hierarchy by its controllers
 * ("cpu,cpuacct", in the kernel's order; "name=systemd"), never by the
 * directory it is mounted on, so the two are matched by controller set. The
 * result is relative to the mount's own root, which is not / where only a
 * sub-tree is mounted. A hierarchy the runtime is not listed in gets its root.
 */
function ownBase(layout: CgroupLayout, name: string, own: OwnCgroup[]): string {
  const mounted = layout.controllers.get(name) ?? new Set<string>();
  const line =
    mounted.size === 0
      ? own.find((o) => o.controllers.length === 0)
      : own.find((o) => o.controllers.length > 0 && o.controllers.every((c) => mounted.has(c)));
  if (!line) return '/';
  const rel = path.posix.relative(layout.mountRoots.get(name) ?? '/', line.path);
  return rel.startsWith('..') ? '/' : `/${rel}`;
}

export class V1Manager implements CgroupManager {
  private readonly dirByName: Map<string, string>;

  constructor(
    readonly record: CgroupRecord,
    private readonly layout: CgroupLayout,
    private readonly seams: CgroupSeams = {},
  ) {
    this.dirByName = new Map();
    for (const dir of record.dirs) {
      const name = [...layout.mountPoints.entries()].find(([, mp]) => dir === mp || dir.startsWith(mp + '/'))?.[0];
      if (name) this.dirByName.set(name, dir);
    }
  }

  static forPath(cgroupPath: string, layout: CgroupLayout, seams: CgroupSeams = {}): V1Manager {
    const own = cgroupPath.startsWith('/') ? undefined : ownCgroups((seams.selfCgroup ?? readSelfCgroup)());
    const dirs = layout.v1Hierarchies.map((name) => {
      const mp = layout.mountPoints.get(name)!;
      const base = own ? ownBase(layout, name, own) : '/';
      return path.join(mp, base, cgroupPath);
    });
    return new V1Manager({ kind: 'v1', path: cgroupPath, dirs }, layout, seams);
  }

  /**
   * A controller's directory, also where it shares a hierarchy (cpu in "cpu,cpuacct", net_cls in
   * "net_cls,net_prio"), by the hierarchy's controllers and not its directory's name, which may be
   * either one; "unified" is the hybrid cgroup2 mount.
   */
  private dir(name: string): string | undefined {
    const own = this.dirByName.get(name);
    if (own) return own;
    for (const [hierarchy, dir] of this.dirByName)
      if (this.layout.controllers.get(hierarchy)?.has(name) || hierarchy.split(',').includes(name)) return dir;
    return undefined;
  }

  create(): void {
    for (const [name, dir] of this.dirByName) {
      if (this.layout.controllers.get(name)?.has('cpuset') || name === 'cpuset') this.makeCpuset(name, dir);
      else fs.mkdirSync(dir, { recursive: true });
    }
  }

  /** New cpuset cgroups start with no CPUs: each new level inherits its parent's. */
  private makeCpuset(hierarchy: string, dir: string): void {
    const mp = this.layout.mountPoints.get(hierarchy)!;
    const parts = path.relative(mp, dir).split('/').filter(Boolean);
    let cur = mp;
    for (const p of parts) {
      const parent = cur;
      cur = path.join(cur, p);
      if (!fs.existsSync(cur)) fs.mkdirSync(cur);
      for (const f of ['cpuset.cpus', 'cpuset.mems'])
        if (!readCgroupFile(cur, f)?.trim()) writeCgroupFile(cur, f, readCgroupFile(parent, f)?.trim() ?? '');
    }
  }

  apply(pid: number, already?: ReadonlySet<string>): void {
    for (const dir of this.dirByName.values()) if (!already?.has(dir)) writeCgroupFile(dir, 'cgroup.procs', String(pid));
  }

  async applyInit(pid: number, already?: ReadonlySet<string>): Promise<void> {
    this.apply(pid, already);
  }

  selfJoinDirs(): string[] {
    return [...this.dirByName].filter(([name]) => name !== 'unified').map(([, dir]) => dir);
  }

  async set(resources: Resources): Promise<void> {
    const memDir = this.dir('memory');
    const hasSwap = !!memDir && fs.existsSync(path.join(memDir, 'memory.memsw.limit_in_bytes'));
    const currentMemsw = memDir ? Number(readCgroupFile(memDir, 'memory.memsw.limit_in_bytes')?.trim() ?? NaN) : undefined;
    let rules;
    try {
      rules = resources.devices ? deviceRules(resources.devices) : undefined;
    } catch (e) {
      throw new TcrError((e as Error).message);
    }
    const writes = v1Writes(resources, { hasSwapAccounting: hasSwap, currentMemsw, devices: rules });
    for (const x of writes) {
      // hybrid hosts keep some controllers (here hugetlb) only in the cgroup2 mount
      let dir = this.dir(x.controller);
      let file = x.file;
      if (!dir && x.controller === 'hugetlb' && this.dir('unified')) {
        dir = this.dir('unified');
        file = file.replace('.limit_in_bytes', '.max');
        this.enableUnified(['hugetlb']);
      }
      if (!dir)
        throw new TcrError(`cgroup: ${x.field ?? 'linux.resources'} needs the ${x.controller} controller, which this host does not mount`);
      writeCgroupFile(dir, file, x.value);
    }
    if (resources.unified && Object.keys(resources.unified).length) {
      const dir = this.dir('unified');
      if (!dir) throw new TcrError('linux.resources.unified: needs cgroup v2, and this host has only v1 hierarchies');
      for (const x of v2Writes({ unified: resources.unified })) writeCgroupFile(dir, x.file, x.value);
    }
  }

  /** Enables controllers down the hybrid cgroup2 tree to our directory (only those asked for). */
  private enableUnified(controllers: string[]): void {
    const mp = this.layout.mountPoints.get('unified')!;
    const parts = path.relative(mp, this.dir('unified')!).split('/').filter(Boolean);
    let cur = mp;
    for (const p of parts) {
      const have = (readCgroupFile(cur, 'cgroup.subtree_control') ?? '').split(/\s+/);
      const missing = controllers.filter((c) => !have.includes(c));
      if (missing.length) writeCgroupFile(cur, 'cgroup.subtree_control', missing.map((c) => `+${c}`).join(' '));
      cur = path.join(cur, p);
    }
  }

  procs(): number[] {
    const dir = this.dir('pids') ?? this.dir('freezer') ?? [...this.dirByName.values()][0];
    return dir ? readPids(dir) : [];
  }

  freeze(): void {
    const dir = this.dir('freezer');
    if (!dir) throw new TcrError('cgroup: pausing needs the freezer controller, which this host does not mount');
    writeCgroupFile(dir, 'freezer.state', 'FROZEN');
    for (let i = 0; i < 1000 && readCgroupFile(dir, 'freezer.state')?.trim() !== 'FROZEN'; i++) sleepMs(1);
  }

  thaw(): void {
    const dir = this.dir('freezer');
    if (dir) writeCgroupFile(dir, 'freezer.state', 'THAWED');
  }

  isFrozen(): boolean {
    const dir = this.dir('freezer');
    const s = dir ? readCgroupFile(dir, 'freezer.state')?.trim() : undefined;
    return s === 'FROZEN' || s === 'FREEZING';
  }

  signalAll(signal: number): void {
    signalEachFrozen(this, signal, this.dir('freezer') !== undefined);
  }

  stats(): Stats {
    return v1Stats((n) => this.dir(n));
  }

  oomKills(): number {
    const dir = this.dir('memory');
    return dir ? (readKeyValues(dir, 'memory.oom_control').oom_kill ?? 0) : 0;
  }

  async destroy(): Promise<void> {
    // every hierarchy is tried: one busy directory is no reason to leave the others behind
    const failed: string[] = [];
    for (const dir of [...this.dirByName.values()].reverse()) {
      try {
        removeCgroupDir(dir, this.seams.rmdir);
      } catch (e) {
        failed.push(errorMessage(e).replace(/^cgroup: /, ''));
      }
    }
    if (failed.length) throw new TcrError(`cgroup: ${failed.join('; ')}`);
  }

  mountSources(): Map<string, string> {
    return new Map(this.dirByName);
  }

  unifiedDir(): string | undefined {
    return this.dir('unified');
  }
}
