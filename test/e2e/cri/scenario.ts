// What every CRI scenario file shares: the lane and the environment it runs
// in, a pod that is removed (with a check that the runtime left no cgroup
// below it) whatever the scenario does, and readers of what a process sees.
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { calls, commandOf, statusOf, type Lane } from '../lib.js';
import type { CriEnv, Pod, PodOptions } from './env.js';

export interface Ctx {
  lane: Lane;
  env: () => CriEnv;
}

/** per-scenario timeout: a loaded 2-core machine can take seconds per runtime call */
export const T = 90_000;

/** Runs `fn` with a fresh pod, then removes the pod as the kubelet does, and checks the runtime removed every cgroup it made below the pod's. */
export async function withPod(ctx: Ctx, name: string, opts: PodOptions, fn: (pod: Pod) => Promise<void>): Promise<void> {
  const env = ctx.env();
  const pod = await env.runPod(ctx.lane.name, name, opts);
  let failed = true;
  try {
    await fn(pod);
    failed = false;
  } finally {
    const left = await env.removePod(pod);
    if (!failed) expect(left, "cgroups left below the pod's").toEqual([]);
  }
}

/** The `Name:\tvalue` fields of a /proc/PID/status text. */
export function statusFields(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of text.split('\n')) {
    const i = l.indexOf(':');
    if (i > 0) out[l.slice(0, i)] = l.slice(i + 1).trim();
  }
  return out;
}

export function procStatus(pid: number): Record<string, string> {
  return statusFields(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
}

export function nsOf(pid: number | 'self', ns: string): string {
  return fs.readlinkSync(`/proc/${pid}/ns/${ns}`);
}

/** The capability mask of names (CAP_ prefix optional), as /proc/PID/status prints it. */
export function capMask(names: string[]): string {
  const bits: Record<string, number> = {
    CHOWN: 0,
    DAC_OVERRIDE: 1,
    DAC_READ_SEARCH: 2,
    FOWNER: 3,
    FSETID: 4,
    KILL: 5,
    SETGID: 6,
    SETUID: 7,
    SETPCAP: 8,
    LINUX_IMMUTABLE: 9,
    NET_BIND_SERVICE: 10,
    NET_BROADCAST: 11,
    NET_ADMIN: 12,
    NET_RAW: 13,
    IPC_LOCK: 14,
    IPC_OWNER: 15,
    SYS_MODULE: 16,
    SYS_RAWIO: 17,
    SYS_CHROOT: 18,
    SYS_PTRACE: 19,
    SYS_PACCT: 20,
    SYS_ADMIN: 21,
    SYS_BOOT: 22,
    SYS_NICE: 23,
    SYS_RESOURCE: 24,
    SYS_TIME: 25,
    SYS_TTY_CONFIG: 26,
    MKNOD: 27,
    LEASE: 28,
    AUDIT_WRITE: 29,
    AUDIT_CONTROL: 30,
    SETFCAP: 31,
    MAC_OVERRIDE: 32,
    MAC_ADMIN: 33,
    SYSLOG: 34,
    WAKE_ALARM: 35,
    BLOCK_SUSPEND: 36,
    AUDIT_READ: 37,
    PERFMON: 38,
    BPF: 39,
    CHECKPOINT_RESTORE: 40,
  };
  let m = 0n;
  for (const n of names) {
    const b = bits[n.replace(/^CAP_/, '')];
    if (b === undefined) throw new Error(`unknown capability ${n}`);
    m |= 1n << BigInt(b);
  }
  return m.toString(16).padStart(16, '0');
}

/** The capabilities containerd 1.6 gives a container that asks for none (its default spec). */
export const DEFAULT_CAPS = [
  'CHOWN',
  'DAC_OVERRIDE',
  'FSETID',
  'FOWNER',
  'MKNOD',
  'NET_RAW',
  'SETGID',
  'SETUID',
  'SETFCAP',
  'SETPCAP',
  'NET_BIND_SERVICE',
  'SYS_CHROOT',
  'KILL',
  'AUDIT_WRITE',
];

/** One line of /proc/PID/mountinfo: the mount point and its per-mount and super-block options. */
export interface MountLine {
  point: string;
  opts: string[];
  fstype: string;
  superOpts: string[];
  optional: string[];
}

export function parseMountinfo(text: string): MountLine[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const f = l.split(' ');
      const dash = f.indexOf('-');
      return {
        point: f[4],
        opts: f[5].split(','),
        optional: f.slice(6, dash),
        fstype: f[dash + 1],
        superOpts: (f[dash + 3] ?? '').split(','),
      };
    });
}

/** The cgroup v1 directory of a process for one controller, on the host. */
export function cgroupDir(pid: number, controller: string): string {
  const line = fs
    .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes(controller));
  if (!line) throw new Error(`pid ${pid} has no ${controller} cgroup`);
  return path.join('/sys/fs/cgroup', controller, line.split(':')[2]);
}

/** The runtime calls of this lane that name `id` (the container or sandbox), as `command => status` pairs. */
export function callsFor(ctx: Ctx, id: string): { cmd: string; status: number | undefined; line: string }[] {
  return calls(ctx.env().callLog(ctx.lane.name))
    .filter((c) => c.split(' => ')[0].split(' ').includes(id))
    .map((line) => ({ cmd: commandOf(line), status: statusOf(line), line }));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls an async check until it holds or `ms` pass. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 10_000, step = 100): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(step);
  }
  return check();
}

export const alive = (pid: number): boolean => {
  try {
    // a zombie is dead for these tests: only its parent's wait is missing
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
};
