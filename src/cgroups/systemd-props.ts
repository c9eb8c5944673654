// linux.resources → systemd unit properties (systemd.resource-control(5)).
// Derived from the very cgroup v2 writes the cgroupfs manager makes
// (resources.ts v2Writes), as runc converts its unified map: the files and
// the unit then say the same, and systemd, which rewrites a unit's cgroup
// files from its properties (daemon-reload, another unit's change in the
// slice), writes back what tcr wrote. Pure, so it is unit-tested.
import { TcrError } from '../errors.js';
import type { DeviceRule } from './devices.js';
import type { CgroupWrite } from './resources.js';

/** One property of a StartTransientUnit / SetUnitProperties call: name, D-Bus signature, value. */
export interface UnitProperty {
  name: string;
  signature: string;
  value: unknown;
}

const prop = (name: string, signature: string, value: unknown): UnitProperty => ({ name, signature, value });

/** systemd's "infinity" (UINT64_MAX) for the byte, task and time limits. */
export const INFINITY = 2n ** 64n - 1n;

const CPU_QUOTA_PERIOD_DEFAULT = 100000n;

function fieldOf(x: CgroupWrite): string {
  return x.field ?? `linux.resources (${x.file})`;
}

function uint(x: CgroupWrite, text: string): bigint {
  if (!/^\d+$/.test(text))
    throw new TcrError(`${fieldOf(x)}: ${JSON.stringify(x.value)} for ${x.file} is not a non-negative integer or "max"`);
  const n = BigInt(text);
  if (n > INFINITY) throw new TcrError(`${fieldOf(x)}: ${x.value} for ${x.file} is out of range`);
  return n;
}

const limit = (x: CgroupWrite) => (x.value.trim() === 'max' ? INFINITY : uint(x, x.value.trim()));

/** "0-2,4" → the bitmask systemd's AllowedCPUs / AllowedMemoryNodes take: bit N of byte N/8 is CPU N. */
export function rangeToBits(list: string, field: string): Buffer {
  const bytes: number[] = [];
  const set = (i: number) => {
    while (bytes.length <= i >> 3) bytes.push(0);
    bytes[i >> 3] |= 1 << (i & 7);
  };
  for (const part of list
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new TcrError(`${field}: ${JSON.stringify(list)}: ${JSON.stringify(part)} is not a number or a range N-M`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw new TcrError(`${field}: ${JSON.stringify(list)}: the range ${part} runs backwards`);
    if (hi > 65535) throw new TcrError(`${field}: ${JSON.stringify(list)}: ${hi} is beyond any CPU or memory node`);
    for (let i = lo; i <= hi; i++) set(i);
  }
  if (!bytes.length) throw new TcrError(`${field}: ${JSON.stringify(list)} lists no CPU or memory node`);
  return Buffer.from(bytes);
}

export interface UnitResources {
  properties: UnitProperty[];
  /** the writes with cpu.max rounded as systemd rounds CPUQuota, so the file matches the unit */
  writes: CgroupWrite[];
}

/**
 * The properties for these writes. `version` is systemd's: properties that
 * an older systemd does not know are left to the files, as runc leaves them.
 * `starting`: OOMPolicy can only be given when the unit is started.
 */
export function unitResources(
  writes: CgroupWrite[],
  opts: { version: number; devices?: DeviceRule[]; starting: boolean; warn?: (m: string) => void },
): UnitResources {
  const props: UnitProperty[] = [];
  const out: CgroupWrite[] = [];
  const idle = writes.some((x) => x.file === 'cpu.idle' && x.value.trim() === '1') && opts.version >= 252;
  for (const x of writes) {
    const v = x.value.trim();
    let w = x;
    switch (x.file) {
      case 'memory.max':
        props.push(prop('MemoryMax', 't', limit(x)));
        break;
      case 'memory.low':
        props.push(prop('MemoryLow', 't', limit(x)));
        break;
      case 'memory.high':
        props.push(prop('MemoryHigh', 't', limit(x)));
        break;
      case 'memory.min':
        props.push(prop('MemoryMin', 't', limit(x)));
        break;
      case 'memory.swap.max':
        props.push(prop('MemorySwapMax', 't', limit(x)));
        break;
      case 'pids.max': {
        const n = limit(x);
        props.push(prop('TasksMax', 't', n === 0n ? 1n : n)); // systemd refuses 0 tasks
        break;
      }
      case 'cpu.weight':
        // systemd sets cpu.idle through CPUWeight=0 (idle): the two cannot both be said
        if (!idle) props.push(prop('CPUWeight', 't', uint(x, v)));
        break;
      case 'cpu.idle':
        if (idle) props.push(prop('CPUWeight', 't', 0n));
        break;
      case 'cpu.max': {
        const [q, p] = v.split(/\s+/);
        const period = p === undefined ? CPU_QUOTA_PERIOD_DEFAULT : uint(x, p);
        if (period === 0n) throw new TcrError(`${fieldOf(x)}: a CPU period of 0 is not allowed`);
        if (opts.version >= 242) props.push(prop('CPUQuotaPeriodUSec', 't', period));
        let perSec = INFINITY;
        if (q !== 'max') {
          const quota = uint(x, q);
          // systemd keeps CPUQuota in whole percent (10 ms of a second): rounded up, and the
          // file gets the quota that rounding gives, as runc writes it
          perSec = (quota * 1000000n) / period;
          if (perSec % 10000n !== 0n) {
            perSec = (perSec / 10000n + 1n) * 10000n;
            w = { ...x, value: `${(perSec * period) / 1000000n} ${period}` };
          }
        }
        props.push(prop('CPUQuotaPerSecUSec', 't', perSec));
        break;
      }
      case 'cpuset.cpus':
        if (opts.version >= 244) props.push(prop('AllowedCPUs', 'ay', rangeToBits(v, fieldOf(x))));
        break;
      case 'cpuset.mems':
        if (opts.version >= 244) props.push(prop('AllowedMemoryNodes', 'ay', rangeToBits(v, fieldOf(x))));
        break;
      case 'io.weight': {
        const m = /^default\s+(\d+)$/.exec(v);
        if (m) props.push(prop('IOWeight', 't', BigInt(m[1])));
        break; // per-device weights name devices by path in systemd: left to the file
      }
      case 'memory.oom.group':
        if (opts.starting && opts.version >= 253 && (v === '0' || v === '1'))
          props.push(prop('OOMPolicy', 's', v === '1' ? 'kill' : 'continue'));
        break;
      default:
        break; // no property for it (io.max by device number, hugetlb, rdma, ...): the file alone
    }
    out.push(w);
  }
  if (opts.devices) props.push(...deviceProperties(opts.devices, opts.warn));
  return { properties: props, writes: out };
}

interface Allow {
  type: 'c' | 'b';
  major: number;
  minor: number;
  access: Set<string>;
}

/**
 * DevicePolicy and DeviceAllow for the rules (applied in order, the last
 * match winning), as runc gives them: systemd only knows allow lists, so a
 * rule set that starts by allowing everything becomes DevicePolicy=auto when
 * nothing is denied after, and strict with no entries (deny all) otherwise,
 * with a warning; tcr's own eBPF program enforces the exact rules beside it.
 */
export function deviceProperties(rules: DeviceRule[], warn: (m: string) => void = () => {}): UnitProperty[] {
  let allowAll = false;
  let denied = false;
  let allows: Allow[] = [];
  const covers = (r: DeviceRule, a: Allow) =>
    (r.type === 'a' || r.type === a.type) && (r.major < 0 || r.major === a.major) && (r.minor < 0 || r.minor === a.minor);
  for (const r of rules) {
    const all = r.type === 'a' && r.major < 0 && r.minor < 0;
    if (all) {
      // "a" with every access resets the list, as in the devices cgroup
      allowAll = r.allow;
      denied = false;
      allows = [];
      continue;
    }
    if (allowAll) {
      if (!r.allow) denied = true;
      continue;
    }
    if (r.allow) {
      for (const type of r.type === 'a' ? (['c', 'b'] as const) : [r.type]) {
        const same = allows.find((a) => a.type === type && a.major === r.major && a.minor === r.minor);
        if (same) for (const c of r.access) same.access.add(c);
        else allows.push({ type, major: r.major, minor: r.minor, access: new Set(r.access) });
      }
    } else {
      for (const a of allows) if (covers(r, a)) for (const c of r.access) a.access.delete(c);
      allows = allows.filter((a) => a.access.size > 0);
    }
  }
  const reset = prop('DeviceAllow', 'a(ss)', []); // an empty list first clears what the unit had
  if (allowAll && !denied) return [reset, prop('DevicePolicy', 's', 'auto')];
  if (allowAll) {
    warn(
      "linux.resources.devices: systemd has no deny lists: the unit denies every device, and only tcr's own device program allows what the rules allow",
    );
    return [reset, prop('DevicePolicy', 's', 'strict')];
  }
  const entries: [string, string][] = [];
  for (const a of allows) {
    const group = a.type === 'c' ? 'char-' : 'block-';
    let path: string;
    if (a.major < 0) {
      if (a.minor >= 0) {
        warn(`linux.resources.devices: systemd has no rule for minor ${a.minor} of every major: left to tcr's own device program`);
        continue;
      }
      path = `${group}*`;
    } else if (a.minor < 0) path = `${group}${a.major}`;
    else path = `/dev/${a.type === 'c' ? 'char' : 'block'}/${a.major}:${a.minor}`;
    entries.push([path, ['r', 'w', 'm'].filter((c) => a.access.has(c)).join('')]);
  }
  return [reset, prop('DevicePolicy', 's', 'strict'), prop('DeviceAllow', 'a(ss)', entries)];
}
