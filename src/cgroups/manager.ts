// One interface over the cgroup managers; which one a container gets depends
// on what the host mounts (cgroupLayout). A manager is rebuilt from the
// container's state record, so delete can undo a create that crashed.
import path from 'node:path';
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import type { Resources } from '../spec/types.js';
import { cgroupLayout, type CgroupLayout } from './detect.js';
import type { Rmdir } from './files.js';
import type { Stats } from './stats.js';
import { SystemdManager } from './systemd.js';
import { expandSlice, systemdUnitPath, userManagerCgroup } from './systemd-path.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';

export interface CgroupRecord {
  kind: 'v1' | 'v2' | 'systemd';
  /** the container's cgroup path inside each hierarchy, e.g. /tcr/ID */
  path: string;
  /** every directory this container's cgroup consists of (leaf per hierarchy) */
  dirs: string[];
  /** systemd: the scope unit, recorded before it is asked for */
  unit?: string;
  /** systemd: the slice the scope is in */
  slice?: string;
}

export interface CgroupManager {
  readonly record: CgroupRecord;
  /** makes the directories (and enables what the resources need) */
  create(): void;
  /**
   * moves a process in, before it runs anything of the container's (exec's processes);
   * `already`: directories it is in by now (selfJoinDirs, CLONE_INTO_CGROUP), left alone
   */
  apply(pid: number, already?: ReadonlySet<string>): void;
  /**
   * the init's first sync point, while it waits for the runtime: the cgroup
   * is ready for it afterwards (cgroupfs: apply(pid); systemd: the scope is
   * started with it, see systemd.ts for that order)
   */
  applyInit(pid: number, already?: ReadonlySet<string>): Promise<void>;
  /**
   * cgroup v1 directories a single-threaded process of the container's joins
   * by itself, writing "0" to their `tasks` as its first steps. The kernel
   * moves a thread that moves itself without its global threadgroup lock,
   * whose every first taking waits for an RCU grace period (15 ms and more a
   * launch on the project's machines; runc pays it in its write of
   * cgroup.procs). cgroup2 has no such file for a process of its own: the
   * executor's clone3(CLONE_INTO_CGROUP) places it there instead.
   */
  selfJoinDirs(): string[];
  set(resources: Resources): Promise<void>;
  procs(): number[];
  freeze(): void;
  thaw(): void;
  isFrozen(): boolean;
  /** signals every process; SIGKILL through cgroup.kill where the kernel has it */
  signalAll(signal: number): void;
  stats(): Stats;
  /** how many processes the OOM killer has killed in this cgroup */
  oomKills(): number;
  /** removes the directories (and a systemd unit); the cgroup must be empty */
  destroy(): Promise<void>;
  /** directory bind-mounted at /sys/fs/cgroup[/NAME] in the container (without a cgroup namespace) */
  mountSources(): Map<string, string>;
  /** a cgroup2 directory the init can be cloned straight into (CLONE_INTO_CGROUP) */
  unifiedDir(): string | undefined;
}

/**
 * What a manager reads of the host besides its own directories. Production
 * passes none of these; unit tests point them at a fixture tree in a temp dir.
 */
export interface CgroupSeams {
  /** default: cgroupLayout(), from /proc/self/mountinfo */
  layout?: CgroupLayout;
  /** the text of /proc/self/cgroup, for paths relative to the runtime's own cgroup */
  selfCgroup?: () => string;
  /**
   * rmdir(2) of a cgroup directory. The kernel removes an empty cgroup with
   * its control files in it; a fixture's plain files would make it ENOTEMPTY.
   */
  rmdir?: Rmdir;
  /** default: the effective uid; not root: --systemd-cgroup asks the user's manager */
  uid?: number;
}

/** cgroupsPath → a path inside each hierarchy. Relative paths hang under the runtime's own cgroup (v2: its parent, as in runc). */
export function resolveCgroupsPath(
  cgroupsPath: string | undefined,
  id: string,
  systemdRuns = fs.existsSync('/run/systemd/system'),
): string {
  if (!cgroupsPath) return `/tcr/${id}`;
  const slice = /^([^:/]*):([^:]*):([^:]*)$/.exec(cgroupsPath);
  // systemd's "slice:prefix:name" without --systemd-cgroup: where systemd runs it is a plain
  // (relative) path, as runc takes it; where it does not, the scope's path systemd would give it
  if (slice && !systemdRuns) {
    const [, sliceName, prefix, name] = slice;
    const slicePath = expandSlice(sliceName || 'system.slice');
    return path.posix.join(slicePath, `${prefix ? prefix + '-' : ''}${name || id}.scope`);
  }
  if (cgroupsPath.split('/').includes('..')) throw new TcrError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} must not contain ".."`);
  return path.posix.normalize(cgroupsPath);
}

/** The manager for a new container: `systemd` is the --systemd-cgroup flag. */
/** The directories a launched process is in before the runtime moves it: those it joined itself, and the cgroup2 one it was cloned into. */
export function joinedCgroups(m: CgroupManager, launch: { intoCgroup: boolean }): Set<string> {
  const dirs = new Set(m.selfJoinDirs());
  const unified = m.unifiedDir();
  if (launch.intoCgroup && unified) dirs.add(unified);
  return dirs;
}

export function managerFor(cgroupsPath: string | undefined, id: string, systemd = false, seams: CgroupSeams = {}): CgroupManager {
  if (!systemd) return newManager(resolveCgroupsPath(cgroupsPath, id), seams);
  const layout = seams.layout ?? cgroupLayout();
  if (!layout.unified)
    throw new TcrError(
      "--systemd-cgroup: tcr's systemd cgroup driver needs cgroup v2 (a unified /sys/fs/cgroup), and this host mounts v1 or hybrid cgroups; use the default cgroupfs driver (without --systemd-cgroup) here",
    );
  // an ordinary user's container is a unit of the user's own manager (systemd --user), as with runc --rootless
  const uid = seams.uid ?? process.geteuid?.() ?? 0;
  return SystemdManager.forUnit(systemdUnitPath(cgroupsPath, id, uid === 0 ? undefined : userManagerCgroup(uid)));
}

export function newManager(cgroupPath: string, seams: CgroupSeams = {}): CgroupManager {
  const layout = seams.layout ?? cgroupLayout();
  if (layout.unified) return V2Manager.forPath(cgroupPath, { ...seams, layout });
  if (layout.v1Hierarchies.length === 0) throw new TcrError(`cgroup: no cgroup hierarchy is mounted under ${layout.root}`);
  return V1Manager.forPath(cgroupPath, layout, seams);
}

export function managerFromRecord(rec: CgroupRecord, seams: CgroupSeams = {}): CgroupManager {
  if (rec.kind === 'systemd') return new SystemdManager(rec);
  // a v2 record holds its directory: the layout is read only for v1's hierarchies
  return rec.kind === 'v2' ? new V2Manager(rec, seams) : new V1Manager(rec, seams.layout ?? cgroupLayout(), seams);
}
