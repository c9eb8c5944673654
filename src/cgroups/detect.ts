// What cgroup layout the host mounts: pure v2 (unified), or v1 controllers
// with an optional cgroup2 mount beside them (hybrid), as on these machines.
import fs from 'node:fs';
import path from 'node:path';

/** Where the host mounts its cgroup hierarchies. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

export interface CgroupLayout {
  /** where the hierarchies are mounted: CGROUP_ROOT, or a fixture tree in unit tests */
  root: string;
  /** the root is itself a cgroup2 mount */
  unified: boolean;
  /** v1 hierarchies (and "unified" for the hybrid cgroup2 mount), by directory name under the root */
  v1Hierarchies: string[];
  /** absolute mount point of each hierarchy, by directory name */
  mountPoints: Map<string, string>;
  /**
   * each hierarchy's controllers, by directory name, from its super options:
   * what /proc/self/cgroup lists for it ("cpu", "cpuacct"; "name=systemd" for
   * a named one), whatever its directory is called ("cpu,cpuacct", or "cpu"
   * on a host that links the other name to it). Empty for a cgroup2 mount.
   */
  controllers: Map<string, Set<string>>;
  /** the cgroup each mount shows at its mount point: "/" unless a sub-tree is mounted (a container's view) */
  mountRoots: Map<string, string>;
}

/** Super options of a v1 cgroup mount that are flags, not controllers. */
const V1_FLAGS = new Set([
  'rw',
  'ro',
  'none',
  'all',
  'noprefix',
  'clone_children',
  'xattr',
  'cpuset_v2_mode',
  'favordynmods',
  'nofavordynmods',
]);

function controllersOf(fstype: string, superOptions: string): Set<string> {
  if (fstype === 'cgroup2') return new Set();
  return new Set(superOptions.split(',').filter((o) => o && !V1_FLAGS.has(o) && (!o.includes('=') || o.startsWith('name='))));
}

let cached: CgroupLayout | undefined;

/** The host's layout, read once per process. */
export function cgroupLayout(): CgroupLayout {
  cached ??= parseCgroupLayout(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
  return cached;
}

/** The layout a mountinfo text describes; `root` moves it off the host for tests. */
export function parseCgroupLayout(mountinfo: string, root = CGROUP_ROOT): CgroupLayout {
  const mountPoints = new Map<string, string>();
  const controllers = new Map<string, Set<string>>();
  const mountRoots = new Map<string, string>();
  let unified = false;
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fields = line.split(' ');
    const mountPoint = fields[4];
    const [fstype, , superOptions = ''] = line.slice(sep + 3).split(' ');
    if (fstype !== 'cgroup' && fstype !== 'cgroup2') continue;
    if (mountPoint === root && fstype === 'cgroup2') unified = true;
    if (!mountPoint.startsWith(root + '/')) continue;
    const name = mountPoint.slice(root.length + 1);
    mountPoints.set(name, mountPoint);
    controllers.set(name, controllersOf(fstype, superOptions));
    mountRoots.set(name, fields[3]);
  }
  return { root, unified, v1Hierarchies: unified ? [] : [...mountPoints.keys()], mountPoints, controllers, mountRoots };
}

/**
 * Whether the host accounts swap per cgroup, which a memory-swap limit
 * needs: v1's memory.memsw.* files (absent when the kernel runs with
 * swapaccount=0), v2's memory.swap.max (present in every non-root cgroup
 * when swap is accounted).
 */
export function hostHasSwapAccounting(cgroupRoot = '/sys/fs/cgroup'): boolean {
  const v1 = path.join(cgroupRoot, 'memory');
  if (fs.existsSync(path.join(v1, 'memory.limit_in_bytes'))) return fs.existsSync(path.join(v1, 'memory.memsw.limit_in_bytes'));
  if (!fs.existsSync(path.join(cgroupRoot, 'cgroup.controllers'))) return false;
  for (const d of fs.readdirSync(cgroupRoot, { withFileTypes: true }))
    if (d.isDirectory() && fs.existsSync(path.join(cgroupRoot, d.name, 'memory.swap.max'))) return true;
  return false;
}
