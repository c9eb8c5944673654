// The cgroup of a container an ordinary user creates. runc --rootless uses a
// cgroup only where the user may write one: a cgroup v2 subtree delegated to
// them (systemd's Delegate=yes, or a directory chowned by root). Elsewhere,
// v1 and hybrid hosts included, the container has none: no limits, no
// pause, and kill --all and ps go by its pid namespace instead.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { Resources } from '../spec/types.js';
import { cgroupLayout, type CgroupLayout } from './detect.js';
import { readSelfCgroup } from './files.js';
import { resolveCgroupsPath, type CgroupManager, type CgroupSeams } from './manager.js';
import { V1Manager } from './v1.js';
import { V2Manager, ownCgroup } from './v2.js';

export interface UserCgroup {
  /** undefined: the container gets no cgroup */
  manager?: CgroupManager;
  /** why there is none, for --debug, --trace and the error of a limit asked for */
  note: string;
  /** a v2 host, where a delegated subtree could have been used: the user is told, not just --debug */
  warn?: boolean;
}

/** The nearest directory of `dir` and its ancestors that exists. */
function nearestExisting(dir: string): string {
  let d = dir;
  while (!fs.existsSync(d) && d !== path.dirname(d)) d = path.dirname(d);
  return d;
}

function writable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** The cgroup a user's container gets: linux.cgroupsPath where it lies in a subtree delegated to the user, else none. */
export function userCgroup(cgroupsPath: string | undefined, id: string, uid: number, seams: CgroupSeams = {}): UserCgroup {
  const layout = seams.layout ?? cgroupLayout();
  if (!layout.unified)
    return {
      note: `no cgroup: this host mounts cgroup v1 (or hybrid) hierarchies, which are not delegated to uid ${uid}, so as with runc --rootless the container runs in tcr's own cgroup`,
    };
  // without a cgroupsPath, as runc --rootless: the id beside the runtime's own cgroup, which is the
  // user's where their shell runs in a delegated subtree
  const manager = V2Manager.forPath(resolveCgroupsPath(cgroupsPath || id, id), { ...seams, layout });
  const dir = manager.record.dirs[0];
  const parent = nearestExisting(path.dirname(dir));
  // a delegated subtree is one whose directories and cgroup.procs the user may write
  if (writable(parent) && writable(path.join(parent, 'cgroup.procs'))) return { manager, note: `cgroup ${dir} (delegated)` };
  return {
    warn: true,
    note: `no cgroup: ${parent} is not writable by uid ${uid} (no cgroup v2 subtree is delegated there; give the user one, e.g. with systemd's Delegate=yes, and point linux.cgroupsPath into it)`,
  };
}

/** A limit needs a cgroup: asked for without one, it fails naming the field instead of being dropped. */
export function refuseLimitsWithoutCgroup(resources: Resources | undefined, note: string): void {
  // device rules are enforced by the user namespace already (it cannot mknod), as runc leaves them
  const asked = Object.entries(resources ?? {})
    .filter(([k, v]) => k !== 'devices' && v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0))
    .map(([k]) => `linux.resources.${k}`);
  if (asked.length)
    throw new TcrError(
      `${asked.join(', ')}: a limit needs a cgroup, and this container has ${note}. Remove the limits (tcr spec --rootless writes none), or run as root`,
    );
}

/**
 * What a container without a cgroup sees at /sys/fs/cgroup: the cgroups it
 * runs in, tcr's own, bound as a container's own would be (as runc --rootless
 * binds its own on v1), read-only unless the mount says otherwise.
 */
export function ownCgroupSources(layout: CgroupLayout, selfCgroup: () => string = readSelfCgroup): Map<string, string> {
  if (layout.unified) return new Map([['', path.join(layout.root, ownCgroup(selfCgroup()))]]);
  // "." relative to the runtime's own cgroup in each hierarchy is that cgroup itself
  return V1Manager.forPath('.', layout, { layout, selfCgroup }).mountSources();
}
