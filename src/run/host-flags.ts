// docker's resource and kernel-setting flags of `tcr run IMAGE` read into the
// spec's pieces: the cpu and memory cgroup settings, --oom-score-adj,
// --ulimit, --sysctl and --shm-size. Each check is docker's (its ranges, its
// allowed sysctls) plus what this host would refuse only once the init runs
// (a hard limit above tcr's own without CAP_SYS_RESOURCE), so a bad value
// fails before anything is made, naming its flag.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { parseBytes } from '../cli/units.js';
import { capNumber, ownBoundingSet } from '../linux/capabilities.js';
import type { Resources, Rlimit } from '../spec/types.js';

const int = (v: string, flag: string): number => {
  if (!/^-?\d+$/.test(v.trim())) throw new TcrError(`${flag}: ${JSON.stringify(v)} is not an integer`);
  return Number(v);
};

/** The flags this module reads, as commander gives them. */
export interface HostFlagValues {
  cpus?: number;
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  memory?: number;
  memoryReservation?: string;
  oomKillDisable?: boolean;
}

/** A cpuset list ("0-2,4") and every CPU or node it names, checked against what the host has (docker: "not available"). */
function cpusetList(v: string, flag: string, online: string): string {
  const spec = v.trim();
  const ranges = spec.split(',').map((part) => /^(\d+)(?:-(\d+))?$/.exec(part));
  if (!spec || ranges.some((m) => !m || (m[2] !== undefined && Number(m[2]) < Number(m[1]))))
    throw new TcrError(`${flag}: ${JSON.stringify(v)} is not a list of numbers and ranges (e.g. 0-2,4)`);
  const have = new Set<number>();
  for (const part of online.trim().split(',').filter(Boolean)) {
    const [a, b = a] = part.split('-').map(Number);
    for (let i = a; i <= b; i++) have.add(i);
  }
  for (const m of ranges)
    for (let i = Number(m![1]); i <= Number(m![2] ?? m![1]); i++)
      if (!have.has(i)) throw new TcrError(`${flag}: requested ${spec} is not available here (available: ${online.trim()})`);
  return spec;
}

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/** The cpu and memory settings beyond -m/--cpus/--pids-limit, in docker's ranges; --cpus with --cpu-quota/--cpu-period conflict, as in docker. */
export function cpuMemoryResources(f: HostFlagValues): Pick<Resources, 'cpu' | 'memory'> {
  const cpu: NonNullable<Resources['cpu']> = {};
  const memory: NonNullable<Resources['memory']> = {};
  if (f.cpus !== undefined && (f.cpuQuota !== undefined || f.cpuPeriod !== undefined))
    throw new TcrError('--cpus: conflicts with --cpu-quota and --cpu-period (both set the CFS quota); give one or the other');
  if (f.cpus !== undefined) Object.assign(cpu, { quota: Math.round(f.cpus * 100000), period: 100000 });
  if (f.cpuShares !== undefined) {
    const n = int(f.cpuShares, '--cpu-shares');
    if (n < 0) throw new TcrError(`--cpu-shares: ${n} must not be negative (the kernel takes 2 to 262144; 0: the default, 1024)`);
    // the kernel clamps 1 up to 2 and large values down to 262144, as docker lets it
    if (n > 0) cpu.shares = n;
  }
  if (f.cpuPeriod !== undefined) {
    const n = int(f.cpuPeriod, '--cpu-period');
    if (n !== 0 && (n < 1000 || n > 1000000))
      throw new TcrError(`--cpu-period: ${n} is out of range: the CFS period is 1000 (1ms) to 1000000 (1s) microseconds`);
    if (n) cpu.period = n;
  }
  if (f.cpuQuota !== undefined) {
    const n = int(f.cpuQuota, '--cpu-quota');
    if (n !== 0 && n !== -1 && n < 1000) throw new TcrError(`--cpu-quota: ${n} is below the 1000 (1ms) minimum (-1: no limit)`);
    if (n) cpu.quota = n;
  }
  if (f.cpusetCpus !== undefined)
    cpu.cpus = cpusetList(f.cpusetCpus, '--cpuset-cpus', readOr('/sys/devices/system/cpu/online', f.cpusetCpus));
  if (f.cpusetMems !== undefined) cpu.mems = cpusetList(f.cpusetMems, '--cpuset-mems', readOr('/sys/devices/system/node/online', '0'));
  if (f.memoryReservation !== undefined) {
    const n = parseBytes(f.memoryReservation, '--memory-reservation');
    if (n < 0) throw new TcrError(`--memory-reservation: ${JSON.stringify(f.memoryReservation)} is not a size (e.g. 256m)`);
    if (f.memory !== undefined && n > f.memory)
      throw new TcrError(`--memory-reservation: ${f.memoryReservation} is above the memory limit (-m): the reservation must be smaller`);
    if (n) memory.reservation = n;
  }
  if (f.oomKillDisable) memory.disableOOMKiller = true;
  return { ...(Object.keys(cpu).length && { cpu }), ...(Object.keys(memory).length && { memory }) };
}

/** --oom-score-adj: -1000 to 1000; lowering it needs CAP_SYS_RESOURCE, which the init would otherwise lack only once it ran. */
export function oomScoreAdj(v: string | undefined, own = () => readOr('/proc/self/oom_score_adj', '0')): number | undefined {
  if (v === undefined) return undefined;
  const n = int(v, '--oom-score-adj');
  if (n < -1000 || n > 1000) throw new TcrError(`--oom-score-adj: ${n} is out of range: the kernel takes -1000 to 1000`);
  const current = Number(own().trim());
  if (n < current && !(ownBoundingSet() & (1n << BigInt(capNumber('CAP_SYS_RESOURCE')!))))
    throw new TcrError(
      `--oom-score-adj: ${n} is below tcr's own (${current}), and lowering it needs CAP_SYS_RESOURCE, which tcr does not have`,
    );
  return n;
}

/** docker's --ulimit names, and the kernel's. */
const ULIMIT_NAMES: Record<string, string> = {
  as: 'RLIMIT_AS',
  core: 'RLIMIT_CORE',
  cpu: 'RLIMIT_CPU',
  data: 'RLIMIT_DATA',
  fsize: 'RLIMIT_FSIZE',
  locks: 'RLIMIT_LOCKS',
  memlock: 'RLIMIT_MEMLOCK',
  msgqueue: 'RLIMIT_MSGQUEUE',
  nice: 'RLIMIT_NICE',
  nofile: 'RLIMIT_NOFILE',
  nproc: 'RLIMIT_NPROC',
  rss: 'RLIMIT_RSS',
  rtprio: 'RLIMIT_RTPRIO',
  rttime: 'RLIMIT_RTTIME',
  sigpending: 'RLIMIT_SIGPENDING',
  stack: 'RLIMIT_STACK',
};

/** /proc/self/limits's row names, by rlimit. */
const LIMITS_ROW: Record<string, string> = {
  RLIMIT_AS: 'Max address space',
  RLIMIT_CORE: 'Max core file size',
  RLIMIT_CPU: 'Max cpu time',
  RLIMIT_DATA: 'Max data size',
  RLIMIT_FSIZE: 'Max file size',
  RLIMIT_LOCKS: 'Max file locks',
  RLIMIT_MEMLOCK: 'Max locked memory',
  RLIMIT_MSGQUEUE: 'Max msgqueue size',
  RLIMIT_NICE: 'Max nice priority',
  RLIMIT_NOFILE: 'Max open files',
  RLIMIT_NPROC: 'Max processes',
  RLIMIT_RSS: 'Max resident set',
  RLIMIT_RTPRIO: 'Max realtime priority',
  RLIMIT_RTTIME: 'Max realtime timeout',
  RLIMIT_SIGPENDING: 'Max pending signals',
  RLIMIT_STACK: 'Max stack size',
};

const UNLIMITED = 2 ** 64 - 1;

/** tcr's own hard limit of `type` (Infinity when unlimited), from /proc/self/limits. */
export function ownHardLimit(type: string, limits = () => readOr('/proc/self/limits', '')): number {
  const row = limits()
    .split('\n')
    .find((l) => l.startsWith(LIMITS_ROW[type]));
  const hard = row?.slice(LIMITS_ROW[type].length).trim().split(/\s+/)[1];
  return hard === undefined || hard === 'unlimited' ? Infinity : Number(hard);
}

/**
 * --ulimit NAME=SOFT[:HARD] (-1 or unlimited: no limit; HARD defaults to
 * SOFT). The limits not given stay tcr's own, as docker's stay the daemon's.
 * Without CAP_SYS_RESOURCE no hard limit may go above tcr's own: refused here.
 */
export function ulimits(values: string[], own = ownHardLimit): Rlimit[] {
  const canRaise = !!(ownBoundingSet() & (1n << BigInt(capNumber('CAP_SYS_RESOURCE')!)));
  const out = new Map<string, Rlimit>();
  for (const v of values) {
    const where = `--ulimit ${JSON.stringify(v)}`;
    const m = /^([a-z]+)=(-1|unlimited|\d+)(?::(-1|unlimited|\d+))?$/.exec(v.trim());
    if (!m) throw new TcrError(`${where}: give NAME=SOFT[:HARD] (e.g. nofile=1024:2048)`);
    const type = ULIMIT_NAMES[m[1]];
    if (!type) throw new TcrError(`${where}: unknown limit ${JSON.stringify(m[1])} (${Object.keys(ULIMIT_NAMES).join(', ')})`);
    const num = (s: string) => (s === '-1' || s === 'unlimited' ? UNLIMITED : Number(s));
    const soft = num(m[2]);
    const hard = m[3] === undefined ? soft : num(m[3]);
    if (soft > hard) throw new TcrError(`${where}: the soft limit ${m[2]} is above the hard limit ${m[3]}`);
    const ownHard = own(type);
    if (!canRaise && hard > ownHard)
      throw new TcrError(
        `${where}: the hard limit ${hard === UNLIMITED ? 'unlimited' : hard} is above tcr's own (${ownHard}), and raising it needs CAP_SYS_RESOURCE, which tcr does not have`,
      );
    out.set(type, { type, soft, hard });
  }
  return [...out.values()];
}

/** The IPC namespace's sysctls docker allows (and everything under fs.mqueue.). */
const IPC_SYSCTLS = [
  'kernel.msgmax',
  'kernel.msgmnb',
  'kernel.msgmni',
  'kernel.sem',
  'kernel.shmall',
  'kernel.shmmax',
  'kernel.shmmni',
  'kernel.shm_rmid_forced',
];

/**
 * --sysctl NAME=VALUE: only the namespaced ones docker allows (IPC: kernel.msg*,
 * kernel.sem, kernel.shm*, fs.mqueue.*; network: net.*), and not for a
 * namespace the container shares with the host, whose setting it would change.
 */
export function sysctls(values: string[], shared: { hostIpc: boolean; hostNetwork: boolean }): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const i = v.indexOf('=');
    const key = i > 0 ? v.slice(0, i).trim() : '';
    const where = `--sysctl ${JSON.stringify(v)}`;
    if (!key || !/^[a-z0-9_.-]+$/i.test(key.replace(/\//g, '.')))
      throw new TcrError(`${where}: give NAME=VALUE (e.g. net.ipv4.ip_forward=1)`);
    const name = key.replace(/\//g, '.');
    const ipc = IPC_SYSCTLS.includes(name) || name.startsWith('fs.mqueue.');
    if (ipc && shared.hostIpc) throw new TcrError(`${where}: ${name} is the host's with --ipc host: not allowed`);
    if (name.startsWith('net.') && shared.hostNetwork)
      throw new TcrError(`${where}: ${name} is the host's with --network host: not allowed`);
    if (!ipc && !name.startsWith('net.'))
      throw new TcrError(
        `${where}: ${name} is not a namespaced sysctl a container may set (kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*): it would change the host's`,
      );
    out[name] = v.slice(i + 1);
  }
  return out;
}

/** --shm-size: the size of /dev/shm (docker's default 64m); docker refuses 0 and below. */
export function shmSize(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = parseBytes(v, '--shm-size');
  if (n <= 0) throw new TcrError(`--shm-size: ${JSON.stringify(v)} must be a size above 0 (e.g. 256m)`);
  return n;
}
