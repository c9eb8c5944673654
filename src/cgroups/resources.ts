// Where linux.resources becomes cgroup file writes: one pure function per
// cgroup version, returning the writes in the order the kernel needs them.
// Managers only carry them out, so this mapping is unit-tested without root.
import type { Resources } from '../spec/types.js';
import { deviceRules, v1RuleText, type DeviceRule } from './devices.js';

export interface CgroupWrite {
  /** v1: the hierarchy (memory, cpu, ...); v2: always "unified" */
  controller: string;
  file: string;
  value: string;
  /** the config field it comes from, named when the host lacks the controller */
  field?: string;
}

const w = (controller: string, file: string, value: string | number, field?: string): CgroupWrite => ({
  controller,
  file,
  value: String(value),
  ...(field && { field }),
});

/** v1 memory.limit_in_bytes and friends; -1 means unlimited there too. */
export function v1Writes(r: Resources, opts: { hasSwapAccounting: boolean; currentMemsw?: number; devices?: DeviceRule[] }): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const m = r.memory;
  if (m) {
    const limit = m.limit;
    const swap = m.swap;
    // memory.memsw.limit_in_bytes must stay >= memory.limit_in_bytes at every moment
    const memswFirst = swap !== undefined && opts.currentMemsw !== undefined && (swap === -1 || swap > opts.currentMemsw);
    if (swap !== undefined && opts.hasSwapAccounting && memswFirst) out.push(w('memory', 'memory.memsw.limit_in_bytes', swap));
    if (limit !== undefined) out.push(w('memory', 'memory.limit_in_bytes', limit));
    if (swap !== undefined && opts.hasSwapAccounting && !memswFirst) out.push(w('memory', 'memory.memsw.limit_in_bytes', swap));
    if (m.reservation !== undefined) out.push(w('memory', 'memory.soft_limit_in_bytes', m.reservation));
    if (m.swappiness !== undefined && m.swappiness >= 0) out.push(w('memory', 'memory.swappiness', m.swappiness));
    if (m.disableOOMKiller) out.push(w('memory', 'memory.oom_control', 1));
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) out.push(w('cpu', 'cpu.shares', c.shares));
    if (c.period) out.push(w('cpu', 'cpu.cfs_period_us', c.period));
    if (c.quota !== undefined && c.quota !== 0) out.push(w('cpu', 'cpu.cfs_quota_us', c.quota));
    if (c.burst !== undefined) out.push(w('cpu', 'cpu.cfs_burst_us', c.burst));
    if (c.realtimePeriod) out.push(w('cpu', 'cpu.rt_period_us', c.realtimePeriod));
    if (c.realtimeRuntime) out.push(w('cpu', 'cpu.rt_runtime_us', c.realtimeRuntime));
    if (c.idle !== undefined) out.push(w('cpu', 'cpu.idle', c.idle));
    if (c.cpus) out.push(w('cpuset', 'cpuset.cpus', c.cpus));
    if (c.mems) out.push(w('cpuset', 'cpuset.mems', c.mems));
  }
  if (r.pids && r.pids.limit !== 0) out.push(w('pids', 'pids.max', r.pids.limit > 0 ? r.pids.limit : 'max'));
  const b = r.blockIO;
  if (b) {
    if (b.weight) out.push(w('blkio', 'blkio.weight', b.weight));
    if (b.leafWeight) out.push(w('blkio', 'blkio.leaf_weight', b.leafWeight));
    for (const d of b.weightDevice ?? []) {
      if (d.weight) out.push(w('blkio', 'blkio.weight_device', `${d.major}:${d.minor} ${d.weight}`));
      if (d.leafWeight) out.push(w('blkio', 'blkio.leaf_weight_device', `${d.major}:${d.minor} ${d.leafWeight}`));
    }
    const throttles: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
      ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
      ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
      ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
    ];
    for (const [key, file] of throttles)
      for (const d of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? [])
        out.push(w('blkio', file, `${d.major}:${d.minor} ${d.rate}`));
  }
  for (const h of r.hugepageLimits ?? []) out.push(w('hugetlb', `hugetlb.${h.pageSize}.limit_in_bytes`, h.limit));
  // v1-only controllers (v2 has no net_cls or net_prio: see v2Writes)
  const n = r.network;
  if (n?.classID !== undefined) out.push(w('net_cls', 'net_cls.classid', n.classID, 'linux.resources.network.classID'));
  for (const [i, p] of (n?.priorities ?? []).entries())
    out.push(w('net_prio', 'net_prio.ifpriomap', `${p.name} ${p.priority}`, `linux.resources.network.priorities[${i}]`));
  if (opts.devices) {
    // start from nothing, then apply the rules in order: the last matching rule wins
    out.push(w('devices', 'devices.deny', 'a'));
    for (const rule of opts.devices) out.push(w('devices', rule.allow ? 'devices.allow' : 'devices.deny', v1RuleText(rule)));
  }
  return out;
}

/** cpu.shares (2..262144) → cpu.weight (1..10000), the conversion runc and crun use. */
export function sharesToWeight(shares: number): number {
  if (shares === 0) return 0;
  return Math.floor(1 + ((shares - 2) * 9999) / 262142);
}

/** blkio weight (10..1000) → io.weight (1..10000). */
export function blkioToIoWeight(weight: number): number {
  return Math.floor(1 + ((weight - 10) * 9999) / 990);
}

const num = (v: number) => (v === -1 ? 'max' : String(v));

export function v2Writes(r: Resources): CgroupWrite[] {
  const out: CgroupWrite[] = [];
  const u = (file: string, value: string | number) => out.push(w('unified', file, value));
  const m = r.memory;
  if (m) {
    if (m.limit !== undefined) u('memory.max', num(m.limit));
    if (m.reservation !== undefined) u('memory.low', num(m.reservation));
    if (m.swap !== undefined) {
      // the spec's swap is memory+swap; v2's memory.swap.max is swap alone
      if (m.swap === -1) u('memory.swap.max', 'max');
      else if (m.limit !== undefined && m.limit !== -1) u('memory.swap.max', Math.max(0, m.swap - m.limit));
    }
    if (m.disableOOMKiller) u('memory.oom.group', 0);
  }
  const c = r.cpu;
  if (c) {
    if (c.shares) u('cpu.weight', sharesToWeight(c.shares));
    if ((c.quota !== undefined && c.quota !== 0) || c.period)
      u('cpu.max', `${c.quota === undefined || c.quota <= 0 ? 'max' : c.quota} ${c.period || 100000}`);
    if (c.burst !== undefined) u('cpu.max.burst', c.burst);
    if (c.idle !== undefined) u('cpu.idle', c.idle);
    if (c.cpus) u('cpuset.cpus', c.cpus);
    if (c.mems) u('cpuset.mems', c.mems);
  }
  if (r.pids && r.pids.limit !== 0) u('pids.max', r.pids.limit > 0 ? r.pids.limit : 'max');
  const b = r.blockIO;
  if (b) {
    if (b.weight) u('io.weight', `default ${blkioToIoWeight(b.weight)}`);
    for (const d of b.weightDevice ?? []) if (d.weight) u('io.weight', `${d.major}:${d.minor} ${blkioToIoWeight(d.weight)}`);
    const keys: [keyof typeof b, string][] = [
      ['throttleReadBpsDevice', 'rbps'],
      ['throttleWriteBpsDevice', 'wbps'],
      ['throttleReadIOPSDevice', 'riops'],
      ['throttleWriteIOPSDevice', 'wiops'],
    ];
    for (const [key, name] of keys)
      for (const d of (b[key] as { major: number; minor: number; rate: number }[] | undefined) ?? [])
        u('io.max', `${d.major}:${d.minor} ${name}=${d.rate === 0 ? 'max' : d.rate}`);
  }
  for (const h of r.hugepageLimits ?? []) u(`hugetlb.${h.pageSize}.max`, h.limit);
  for (const [key, value] of Object.entries(r.unified ?? {})) u(key, value);
  return out;
}

/** The v2 controllers a set of writes needs enabled in the parents' subtree_control. */
export function controllersFor(writes: CgroupWrite[]): string[] {
  const set = new Set<string>();
  for (const x of writes) {
    const c = x.file.split('.')[0];
    if (['memory', 'cpu', 'cpuset', 'pids', 'io', 'hugetlb', 'rdma', 'misc'].includes(c)) set.add(c);
  }
  return [...set];
}

export { deviceRules };
