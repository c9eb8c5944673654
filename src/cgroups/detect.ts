// What cgroup layout the host mounts: pure v2 (unified), or v1 controllers
// with an optional cgroup2 mount beside them (hybrid), as on these machines.
import fs from 'node:fs';

export interface CgroupLayout {
  /** /sys/fs/cgroup is itself a cgroup2 mount */
  unified: boolean;
  /** v1 hierarchies (and "unified" for the hybrid cgroup2 mount), by directory name under /sys/fs/cgroup */
  v1Hierarchies: string[];
  /** absolute mount point of each hierarchy, by directory name */
  mountPoints: Map<string, string>;
}

let cached: CgroupLayout | undefined;

export function cgroupLayout(): CgroupLayout {
  if (cached) return cached;
  const mountPoints = new Map<string, string>();
  let unified = false;
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const mountPoint = line.split(' ')[4];
    const fstype = line.slice(sep + 3).split(' ')[0];
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mountPoint === '/sys/fs/cgroup' && fstype === 'cgroup2') unified = true;
    if (mountPoint.startsWith('/sys/fs/cgroup/')) mountPoints.set(mountPoint.slice('/sys/fs/cgroup/'.length), mountPoint);
  }
  cached = { unified, v1Hierarchies: unified ? [] : [...mountPoints.keys()], mountPoints };
  return cached;
}
