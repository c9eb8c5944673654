// Cgroup hierarchies as plain directories in a temp dir, described by a
// mountinfo text as the kernel would print it, so the managers run without
// root and every file they write can be read back.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, vi } from 'vitest';
import { parseCgroupLayout, type CgroupLayout } from '../../src/cgroups/detect.js';
import { newManager, type CgroupManager, type CgroupSeams } from '../../src/cgroups/manager.js';

// taken before recordWrites can replace it, so the fixture's own writes are not recorded
const writeFile = fs.writeFileSync;

export interface CgroupFixture {
  root: string;
  mountinfo: string;
  layout: CgroupLayout;
  seams: CgroupSeams;
  /** a file's content, relative to the root; undefined when missing */
  read(rel: string): string | undefined;
  /** puts a file where the kernel would have one */
  put(rel: string, content: string): void;
  /** the directories below the root, relative, sorted */
  dirs(): string[];
  cleanup(): void;
}

/** A mountinfo line (optional fields, then " - ", fstype, source, super options). */
export function mountLine(id: number, mountPoint: string, fstype: string, options = 'rw'): string {
  return `${id} 31 0:${id} / ${mountPoint} rw,nosuid,nodev,noexec,relatime shared:${id} - ${fstype} ${fstype} ${options}`;
}

/**
 * The kernel's rmdir of a cgroup: its control files go with it, but not while
 * a process is in it or a child cgroup is below it (EBUSY).
 */
export function kernelRmdir(dir: string): void {
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  const procs = path.join(dir, 'cgroup.procs');
  const busy = entries.some((e) => e.isDirectory()) || (fs.existsSync(procs) && fs.readFileSync(procs, 'utf8').trim() !== '');
  if (busy) throw Object.assign(new Error(`EBUSY: rmdir ${dir}`), { code: 'EBUSY' });
  for (const e of entries) fs.unlinkSync(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

/** What the kernel does when a process is reaped: it leaves every cgroup it was in. */
export function leaveCgroups(root: string, pid: number): void {
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name === 'cgroup.procs')
        writeFile(
          p,
          fs
            .readFileSync(p, 'utf8')
            .split('\n')
            .filter((l) => l && l !== String(pid))
            .join('\n'),
        );
    }
  };
  walk(root);
}

function fixture(lines: (root: string) => string[], files: Record<string, string>): CgroupFixture {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-cgroup-'));
  const mountinfo = ['22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw', mountLine(30, '/proc', 'proc'), ...lines(root), ''].join(
    '\n',
  );
  const layout = parseCgroupLayout(mountinfo, root);
  for (const mp of layout.mountPoints.values()) fs.mkdirSync(mp, { recursive: true });
  const put = (rel: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFile(path.join(root, rel), content);
  };
  for (const [rel, content] of Object.entries(files)) put(rel, content);
  const dirs = (): string[] => {
    const out: string[] = [];
    const walk = (d: string) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) {
          out.push(path.relative(root, path.join(d, e.name)));
          walk(path.join(d, e.name));
        }
    };
    walk(root);
    return out.sort();
  };
  return {
    root,
    mountinfo,
    layout,
    seams: { layout, rmdir: kernelRmdir, selfCgroup: () => '0::/\n' },
    read: (rel) => (fs.existsSync(path.join(root, rel)) ? fs.readFileSync(path.join(root, rel), 'utf8') : undefined),
    put,
    dirs,
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * This project's machines: v1 controllers, and a cgroup2 mount at unified with only hugetlb.
 * `options` gives a hierarchy super options other than its directory's name ("cpu" mounted
 * with "cpu,cpuacct"); `links` adds symlinks beside the mounts, as hosts make for the other
 * name of a shared hierarchy (cpuacct → cpu,cpuacct). mountinfo never lists a link.
 */
export function hybridFixture(
  opts: { unified?: boolean; hierarchies?: string[]; options?: Record<string, string>; links?: Record<string, string> } = {},
): CgroupFixture {
  const hierarchies = opts.hierarchies ?? ['cpu,cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
  const unified = opts.unified ?? true;
  const fx = fixture(
    (root) => [
      mountLine(40, root, 'tmpfs', 'rw,mode=755'),
      ...hierarchies.map((h, i) => mountLine(41 + i, `${root}/${h}`, 'cgroup', `rw,${opts.options?.[h] ?? h}`)),
      ...(unified ? [mountLine(60, `${root}/unified`, 'cgroup2', 'rw')] : []),
    ],
    {
      ...(hierarchies.includes('cpuset') && { 'cpuset/cpuset.cpus': '0-3\n', 'cpuset/cpuset.mems': '0\n' }),
      ...(unified && { 'unified/cgroup.controllers': 'hugetlb\n', 'unified/cgroup.subtree_control': '\n' }),
    },
  );
  for (const [link, target] of Object.entries(opts.links ?? {})) fs.symlinkSync(target, path.join(fx.root, link));
  return fx;
}

/** A pure cgroup2 host: the root is the one hierarchy. */
export function v2Fixture(controllers = 'cpuset cpu io memory hugetlb pids'): CgroupFixture {
  return fixture((root) => [mountLine(40, root, 'cgroup2', 'rw,nsdelegate')], {
    'cgroup.controllers': `${controllers}\n`,
    'cgroup.subtree_control': '\n',
  });
}

/** Every cgroup file write under `root`, in order, as [path relative to root, value]. */
export function recordWrites(root: string): { writes: [string, string][]; restore: () => void } {
  const writes: [string, string][] = [];
  const spy = vi.spyOn(fs, 'writeFileSync').mockImplementation((file, data, options) => {
    if (typeof file === 'string' && file.startsWith(root + '/'))
      writes.push([path.relative(root, file), typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString()]);
    return writeFile(file, data, options);
  });
  return { writes, restore: () => spy.mockRestore() };
}

/** Per test: a fresh fixture, a manager for `cgroupPath` on it, and its writes recorded from then on. */
export function managerPerTest(make: () => CgroupFixture, cgroupPath: string) {
  const t = {} as { fx: CgroupFixture; cg: CgroupManager; rec: ReturnType<typeof recordWrites> };
  beforeEach(() => {
    t.fx = make();
    t.cg = newManager(cgroupPath, t.fx.seams);
    t.rec = recordWrites(t.fx.root);
  });
  afterEach(() => {
    t.rec.restore();
    t.fx.cleanup();
  });
  return t;
}
