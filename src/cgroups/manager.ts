// One interface over the cgroup managers; which one a container gets depends
// on what the host mounts (cgroupLayout). A manager is rebuilt from the
// container's state record, so delete can undo a create that crashed.
import path from 'node:path';
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import type { Resources } from '../spec/types.js';
import { cgroupLayout } from './detect.js';
import type { Stats } from './stats.js';
import { V1Manager } from './v1.js';
import { V2Manager } from './v2.js';

export interface CgroupRecord {
  kind: 'v1' | 'v2';
  /** the container's cgroup path inside each hierarchy, e.g. /tcr/ID */
  path: string;
  /** every directory this container's cgroup consists of (leaf per hierarchy) */
  dirs: string[];
}

export interface CgroupManager {
  readonly record: CgroupRecord;
  /** makes the directories (and enables what the resources need) */
  create(): void;
  /** moves a process in, before it runs anything of the container's */
  apply(pid: number): void;
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
  /** removes the directories; the cgroup must be empty */
  destroy(): void;
  /** directory bind-mounted at /sys/fs/cgroup[/NAME] in the container (without a cgroup namespace) */
  mountSources(): Map<string, string>;
  /** a cgroup2 directory the init can be cloned straight into (CLONE_INTO_CGROUP) */
  unifiedDir(): string | undefined;
}

/** cgroupsPath → a path inside each hierarchy. Relative paths hang under the runtime's own cgroup. */
export function resolveCgroupsPath(cgroupsPath: string | undefined, id: string): string {
  if (!cgroupsPath) return `/tcr/${id}`;
  const slice = /^([^:/]*):([^:]*):([^:]*)$/.exec(cgroupsPath);
  if (slice) {
    // systemd's "slice:prefix:name", used without systemd: a plain path like runc's fallback
    if (fs.existsSync('/run/systemd/system'))
      throw new TcrError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} is a systemd path; the systemd cgroup manager is not supported yet`);
    const [, sliceName, prefix, name] = slice;
    const slicePath = expandSlice(sliceName || 'system.slice');
    return path.posix.join(slicePath, `${prefix ? prefix + '-' : ''}${name || id}.scope`);
  }
  if (cgroupsPath.split('/').includes('..')) throw new TcrError(`linux.cgroupsPath: ${JSON.stringify(cgroupsPath)} must not contain ".."`);
  return path.posix.normalize(cgroupsPath);
}

/** "a-b-c.slice" → /a.slice/a-b.slice/a-b-c.slice, as systemd nests slices. */
function expandSlice(slice: string): string {
  if (!slice.endsWith('.slice')) throw new TcrError(`linux.cgroupsPath: ${JSON.stringify(slice)} is not a slice name`);
  const parts = slice.slice(0, -'.slice'.length).split('-');
  if (parts.length === 1 && parts[0] === '') return '/';
  let acc = '';
  const out: string[] = [];
  for (const p of parts) {
    acc = acc ? `${acc}-${p}` : p;
    out.push(`${acc}.slice`);
  }
  return '/' + out.join('/');
}

export function newManager(cgroupPath: string): CgroupManager {
  const layout = cgroupLayout();
  if (layout.unified) return V2Manager.forPath(cgroupPath);
  if (layout.v1Hierarchies.length === 0) throw new TcrError('cgroup: no cgroup hierarchy is mounted under /sys/fs/cgroup');
  return V1Manager.forPath(cgroupPath, layout);
}

export function managerFromRecord(rec: CgroupRecord): CgroupManager {
  return rec.kind === 'v2' ? new V2Manager(rec) : new V1Manager(rec, cgroupLayout());
}
