// Cgroup hierarchies as the CRI suite sees them: every mounted one (v1
// controllers, named ones, the cgroup2 mount), those the host leaves
// unmounted, and the directories below a pod's cgroup in all of them.
import fs from 'node:fs';
import path from 'node:path';

/** Mount points of the cgroup hierarchies this process sees (v1 controllers, named ones, the cgroup2 mount). */
export function cgroupMounts(): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => {
      const dash = f.indexOf('-');
      return dash > 0 && /^cgroup2?$/.test(f[dash + 1]) && f[3] === '/';
    })
    .map((f) => f[4]);
}

/**
 * v1 hierarchies this process belongs to (/proc/self/cgroup) that nothing
 * mounts, as `net_cls,net_prio` on this project's VMs. containerd's cgroups
 * library, which the shim uses to watch a container's OOM events and read
 * its metrics, fails on them ("cannot find cgroup mount destination") for
 * runc as for tcr, so OOMKilled and ContainerStats never come. A node the
 * kubelet runs on mounts every hierarchy.
 */
export function unmountedHierarchies(): string[] {
  const supers = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .flatMap((l) => {
      const f = l.split(' ');
      const dash = f.indexOf('-');
      return dash > 0 && f[dash + 1] === 'cgroup' ? [f[dash + 3].split(',')] : [];
    });
  return fs
    .readFileSync('/proc/self/cgroup', 'utf8')
    .split('\n')
    .map((l) => l.split(':')[1])
    .filter((c): c is string => !!c)
    .filter((ctrls) => !supers.some((opts) => ctrls.split(',').every((c) => opts.includes(c))));
}

/** Directories below `top`, at any depth. */
export function dirsBelow(top: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      out.push(path.join(dir, e.name));
      walk(path.join(dir, e.name));
    }
  };
  walk(top);
  return out;
}

/** Cgroup directories below `rel` in every mounted hierarchy, as `MOUNT/rel/...` paths. */
export function cgroupDirsBelow(rel: string): string[] {
  return cgroupMounts()
    .flatMap((m) => dirsBelow(path.join(m, rel)))
    .sort();
}

/** Removes the cgroup `rel` and everything below it from every mounted hierarchy (or those of `mounts`), deepest first (what still has processes stays). */
export function removeCgroupTree(rel: string, mounts = cgroupMounts()): void {
  for (const m of mounts) {
    const top = path.join(m, rel);
    for (const d of [...dirsBelow(top), top].sort((a, b) => b.length - a.length)) {
      try {
        fs.rmdirSync(d);
      } catch {
        /* busy or gone */
      }
    }
  }
}
