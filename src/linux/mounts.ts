// Where mounts are decided: spec.mounts, the rootfs bind, its propagation,
// masked and read-only paths, each turned into plan steps whose targets the
// executor resolves inside the rootfs (never following a symlink out).
import fs from 'node:fs';
import path from 'node:path';
import { SpecError } from '../errors.js';
import type { Mount, Spec } from '../spec/types.js';
import { Step, StepFlag, type PlanStep } from './plan-steps.js';

export const MS = {
  RDONLY: 1,
  NOSUID: 2,
  NODEV: 4,
  NOEXEC: 8,
  SYNCHRONOUS: 16,
  REMOUNT: 32,
  MANDLOCK: 64,
  DIRSYNC: 128,
  NOSYMFOLLOW: 256,
  NOATIME: 1024,
  NODIRATIME: 2048,
  BIND: 4096,
  MOVE: 8192,
  REC: 16384,
  SILENT: 32768,
  UNBINDABLE: 1 << 17,
  PRIVATE: 1 << 18,
  SLAVE: 1 << 19,
  SHARED: 1 << 20,
  RELATIME: 1 << 21,
  I_VERSION: 1 << 23,
  STRICTATIME: 1 << 24,
  LAZYTIME: 1 << 25,
} as const;

/** option → [flags to clear, flags to set] */
export const FLAG_OPTIONS: Record<string, [number, number]> = {
  ro: [0, MS.RDONLY],
  rw: [MS.RDONLY, 0],
  nosuid: [0, MS.NOSUID],
  suid: [MS.NOSUID, 0],
  nodev: [0, MS.NODEV],
  dev: [MS.NODEV, 0],
  noexec: [0, MS.NOEXEC],
  exec: [MS.NOEXEC, 0],
  sync: [0, MS.SYNCHRONOUS],
  async: [MS.SYNCHRONOUS, 0],
  dirsync: [0, MS.DIRSYNC],
  remount: [0, MS.REMOUNT],
  mand: [0, MS.MANDLOCK],
  nomand: [MS.MANDLOCK, 0],
  atime: [MS.NOATIME, 0],
  noatime: [0, MS.NOATIME],
  diratime: [MS.NODIRATIME, 0],
  nodiratime: [0, MS.NODIRATIME],
  relatime: [0, MS.RELATIME],
  norelatime: [MS.RELATIME, 0],
  strictatime: [0, MS.STRICTATIME],
  nostrictatime: [MS.STRICTATIME, 0],
  lazytime: [0, MS.LAZYTIME],
  nolazytime: [MS.LAZYTIME, 0],
  iversion: [0, MS.I_VERSION],
  noiversion: [MS.I_VERSION, 0],
  silent: [0, MS.SILENT],
  loud: [MS.SILENT, 0],
  nosymfollow: [0, MS.NOSYMFOLLOW],
  symfollow: [MS.NOSYMFOLLOW, 0],
  bind: [0, MS.BIND],
  rbind: [0, MS.BIND | MS.REC],
  defaults: [0, 0],
};

export const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE,
  rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED,
  rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE,
  rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE,
  runbindable: MS.UNBINDABLE | MS.REC,
};

export interface ParsedOptions {
  flags: number;
  propagation: number[];
  data: string[];
}

export function parseMountOptions(options: string[] = []): ParsedOptions {
  let flags = 0;
  const propagation: number[] = [];
  const data: string[] = [];
  for (const o of options) {
    if (o in FLAG_OPTIONS) {
      const [clear, set] = FLAG_OPTIONS[o];
      flags = (flags & ~clear) | set;
    } else if (o in PROPAGATION) {
      propagation.push(PROPAGATION[o]);
    } else if (o.startsWith('x-')) {
      // user-space annotations (x-systemd.*): not for the kernel
    } else {
      data.push(o);
    }
  }
  return { flags, propagation, data };
}

export function flagNames(flags: number): string {
  const names = Object.entries(MS)
    .filter(([, v]) => flags & v)
    .map(([k]) => k.toLowerCase());
  return names.join(',');
}

function isBind(m: Mount, opts: ParsedOptions): boolean {
  return m.type === 'bind' || (opts.flags & MS.BIND) !== 0;
}

export interface MountContext {
  bundle: string;
  /** true when mknod and some mounts are not allowed: a user namespace, the container's or the runtime's own */
  userns: boolean;
  cgroupV2: boolean;
  /** the container's cgroup directory on the host, by hierarchy name ("" on v2) */
  cgroupSources: Map<string, string>;
  /** the container gets its own cgroup namespace */
  cgroupNs: boolean;
}

// what the kernel allows a user namespace only with a namespace of its own (runc 1.1 fails the same way, with no fallback)
const USERNS_MOUNT_FAILURE: Record<string, (field: string) => string> = {
  sysfs: (f) =>
    `${f}: in a user namespace sysfs mounts only with a network namespace the user namespace owns; bind /sys (rbind) instead, as podman does for --network host`,
  mqueue: (f) => `${f}: in a user namespace mqueue mounts only with an IPC namespace the user namespace owns; bind /dev/mqueue instead`,
};

function cleanDest(d: string): string {
  // as Go's filepath.Clean (runc): no trailing slash, which would break a file target
  return path.posix.normalize(d).replace(/(.)\/+$/, '$1');
}

/** Steps for one entry of spec.mounts, made inside the rootfs at its destination. */
export function mountSteps(m: Mount, index: number, ctx: MountContext): PlanStep[] {
  const opts = parseMountOptions(m.options);
  const dest = cleanDest(m.destination);
  const steps: PlanStep[] = [];
  const field = `mounts[${index}]`;
  if (isBind(m, opts)) {
    const source = path.resolve(ctx.bundle, m.source ?? '');
    let st: fs.Stats;
    try {
      st = fs.statSync(source);
    } catch {
      throw new SpecError(`${field}.source`, `bind source ${source} does not exist`);
    }
    steps.push(
      st.isDirectory()
        ? Step.mkdir({ path: dest, mode: 0o755, label: `mkdir ${dest}` })
        : Step.mkfile({ path: dest, mode: 0o644, label: `create file ${dest} (bind target)` }),
    );
    const bindFlags = MS.BIND | (opts.flags & MS.REC);
    steps.push(
      Step.mount({
        source,
        target: dest,
        mountFlags: bindFlags,
        inRoot: true,
        label: `bind ${source} on ${dest}${bindFlags & MS.REC ? ' (recursive)' : ''}`,
      }),
    );
    // a bind mount takes its flags only from a remount of it
    const extra = opts.flags & ~(MS.BIND | MS.REC | MS.REMOUNT);
    if (extra) {
      const flags = MS.BIND | MS.REMOUNT | extra;
      steps.push(
        Step.mount({ target: dest, mountFlags: flags, inRoot: true, retryLocked: true, label: `remount ${dest} ${flagNames(extra)}` }),
      );
    }
  } else if (m.type === 'cgroup') {
    steps.push(...cgroupMountSteps(dest, opts, ctx));
  } else {
    const type = m.type ?? 'none';
    // "tmpcopyup" is runc's extension, not a kernel option: the tmpfs starts
    // with a copy of the directory it covers (podman --read-only asks for it
    // on /tmp, /var/tmp and /run). The tmpfs root takes that directory's
    // mode unless a mode= option says otherwise or the executor had to make
    // the directory (then the tmpfs keeps its 1777, as under runc).
    const copyup = type === 'tmpfs' && opts.data.includes('tmpcopyup');
    if (!copyup) steps.push(Step.mkdir({ path: dest, mode: 0o755, label: `mkdir ${dest}` }));
    const data = opts.data.filter((o) => !(copyup && o === 'tmpcopyup')).join(',');
    if (copyup) {
      const keepMode = !opts.data.some((o) => o.startsWith('mode='));
      steps.push(
        Step.tmpfsCopyup({
          source: m.source ?? type,
          target: dest,
          fstype: type,
          data: data || undefined,
          mountFlags: opts.flags,
          keepMode,
          label: `mount tmpfs on ${dest}${opts.flags || data ? ` (${[flagNames(opts.flags), data].filter(Boolean).join(',')})` : ''} holding a copy of what it covers (tmpcopyup)`,
        }),
      );
    } else
      steps.push(
        Step.mount({
          source: m.source ?? type,
          target: dest,
          fstype: type,
          data: data || undefined,
          mountFlags: opts.flags,
          inRoot: true,
          failure: ctx.userns ? USERNS_MOUNT_FAILURE[type]?.(field) : undefined,
          label: `mount ${type} on ${dest}${opts.flags || data ? ` (${[flagNames(opts.flags), data].filter(Boolean).join(',')})` : ''}`,
        }),
      );
  }
  for (const p of opts.propagation)
    steps.push(Step.mount({ target: dest, mountFlags: p, inRoot: true, label: `make ${dest} ${flagNames(p)}` }));
  return steps;
}

function cgroupMountSteps(dest: string, opts: ParsedOptions, ctx: MountContext): PlanStep[] {
  const flags = opts.flags | MS.NOSUID | MS.NODEV | MS.NOEXEC;
  const ro = (target: string): PlanStep[] =>
    opts.flags & MS.RDONLY ? [Step.remountRo({ path: target, label: `remount ${target} read-only` })] : [];
  const mkdir = (d: string): PlanStep => Step.mkdir({ path: d, mode: 0o755, label: `mkdir ${d}` });
  // without a cgroup namespace the container sees only its own cgroup, bound from the host (as runc does);
  // inside one, the kernel shows the namespace's root, the container's cgroup, by itself
  const bind = (source: string, target: string): PlanStep[] => [
    mkdir(target),
    Step.mount({ source, target, mountFlags: MS.BIND, inRoot: true, label: `bind the container's cgroup ${source} on ${target}` }),
    Step.mount({
      target,
      mountFlags: MS.BIND | MS.REMOUNT | MS.NOSUID | MS.NODEV | MS.NOEXEC | (opts.flags & MS.RDONLY),
      inRoot: true,
      retryLocked: true,
      label: `remount ${target} ${flagNames(MS.NOSUID | MS.NODEV | MS.NOEXEC | (opts.flags & MS.RDONLY))}`,
    }),
  ];
  const tmpfs = (why: string): PlanStep =>
    Step.mount({
      source: 'tmpfs',
      target: dest,
      fstype: 'tmpfs',
      data: 'mode=755',
      mountFlags: MS.NOSUID | MS.NODEV | MS.NOEXEC,
      inRoot: true,
      label: `mount tmpfs on ${dest} (${why})`,
    });
  if (ctx.cgroupV2) {
    const source = ctx.cgroupSources.get('');
    if (!ctx.cgroupNs && source) return bind(source, dest);
    // A user's spec binds the host's /sys, and with it the host's cgroup2 on /sys/fs/cgroup: a cgroup2
    // mount right on top is refused (EBUSY: the same file system on the same mount point) and the bound
    // one cannot be unmounted in a user namespace (it is locked). A tmpfs between the two makes it a new
    // mount point.
    const between = ctx.userns ? [tmpfs(`between the host's cgroup2 the /sys bind brought and the container's`)] : [];
    return [
      mkdir(dest),
      ...between,
      Step.mount({ source: 'cgroup', target: dest, fstype: 'cgroup2', mountFlags: flags, inRoot: true, label: `mount cgroup2 on ${dest}` }),
    ];
  }
  // v1 and hybrid hosts: a tmpfs holding one mount per hierarchy
  const steps: PlanStep[] = [mkdir(dest), tmpfs('for the cgroup v1 hierarchies')];
  for (const [name, source] of ctx.cgroupSources) {
    const sub = `${dest}/${name}`;
    if (!ctx.cgroupNs) {
      steps.push(...bind(source, sub));
      continue;
    }
    const type = name === 'unified' ? 'cgroup2' : 'cgroup';
    const data = name === 'unified' ? undefined : name === 'systemd' ? 'none,name=systemd' : name;
    steps.push(
      mkdir(sub),
      Step.mount({
        source: 'cgroup',
        target: sub,
        fstype: type,
        data,
        mountFlags: flags,
        inRoot: true,
        label: `mount ${type}${data ? ' ' + data : ''} on ${sub}`,
      }),
    );
  }
  steps.push(...ro(dest));
  return steps;
}

/** Steps after pivot_root: read-only paths, then masked paths (missing ones are skipped). */
export function protectPathSteps(spec: Spec): PlanStep[] {
  const steps: PlanStep[] = [];
  const skip = StepFlag.ignoreEnoent;
  for (const p of spec.linux?.readonlyPaths ?? []) {
    steps.push(
      Step.mount({
        source: p,
        target: p,
        mountFlags: MS.BIND | MS.REC,
        inRoot: true,
        sourceInRoot: true,
        flags: skip,
        label: `bind ${p} on itself`,
      }),
    );
    steps.push(Step.remountRo({ path: p, flags: skip, label: `remount ${p} read-only` }));
  }
  for (const p of spec.linux?.maskedPaths ?? []) steps.push(Step.mask({ path: p, flags: skip, label: `mask ${p}` }));
  return steps;
}

/** The propagation "/" gets before the rootfs is prepared (so nothing leaks to the host). */
export function rootPropagationBefore(spec: Spec): number {
  const p = spec.linux?.rootfsPropagation;
  if (p === 'private' || p === 'rprivate') return MS.PRIVATE | MS.REC;
  // as runc: the requested propagation from the start, so an rshared volume stays a peer of
  // the host's mount (the kubelet's Bidirectional) instead of a slave in a new peer group
  if (p === 'shared' || p === 'rshared') return PROPAGATION[p];
  return MS.SLAVE | MS.REC;
}

/** Whether / stays shared with the host: then the mount holding the rootfs is made private first (see launch-plan.ts). */
export function rootStaysShared(spec: Spec): boolean {
  const p = spec.linux?.rootfsPropagation;
  return p === 'shared' || p === 'rshared';
}

/** What rootfsPropagation asks for once the container's / is in place, if anything. */
export function rootPropagationAfter(spec: Spec): number | undefined {
  const p = spec.linux?.rootfsPropagation;
  if (!p) return undefined;
  return PROPAGATION[p];
}
