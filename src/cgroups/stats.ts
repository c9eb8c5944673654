// Cgroup statistics in runc's JSON shape (`runc events --stats`), read from
// the v1 or v2 files.
import fs from 'node:fs';
import { readCgroupFile, readKeyValues, readNumber } from './files.js';

interface MemoryEntry {
  limit: number;
  usage?: number;
  max?: number;
  failcnt: number;
}

interface BlkioEntry {
  major: number;
  minor: number;
  op: string;
  value: number;
}

export interface Stats {
  cpu: {
    usage: { total?: number; percpu?: number[]; percpu_kernel?: number[]; percpu_user?: number[]; kernel: number; user: number };
    throttling: { periods?: number; throttled_periods?: number; throttled_time?: number };
  };
  memory: {
    cache?: number;
    usage: MemoryEntry;
    swap: MemoryEntry;
    kernel: MemoryEntry;
    kernelTCP: MemoryEntry;
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: { ioServiceBytesRecursive?: BlkioEntry[]; ioServicedRecursive?: BlkioEntry[] };
  hugetlb: Record<string, { usage?: number; max?: number; failcnt: number }>;
  intel_rdt: Record<string, never>;
  network_interfaces: null;
}

const UNLIMITED = 2 ** 64 - 1;

function limitOf(dir: string, file: string): number {
  const t = readCgroupFile(dir, file)?.trim();
  return t === undefined ? 0 : t === 'max' ? UNLIMITED : Number(t);
}

function entry(dir: string | undefined, prefix: string): MemoryEntry {
  if (!dir) return { limit: 0, failcnt: 0 };
  return {
    limit: readNumber(dir, `${prefix}.limit_in_bytes`),
    usage: readNumber(dir, `${prefix}.usage_in_bytes`),
    max: readNumber(dir, `${prefix}.max_usage_in_bytes`),
    failcnt: readNumber(dir, `${prefix}.failcnt`),
  };
}

function blkioEntries(dir: string | undefined, file: string): BlkioEntry[] {
  if (!dir) return [];
  const out: BlkioEntry[] = [];
  for (const line of (readCgroupFile(dir, file) ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\w+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

function pageSizes(): string[] {
  try {
    // hugepages-2048kB → 2MB, as the cgroup files name them
    return fs.readdirSync('/sys/kernel/mm/hugepages').map((d) => {
      const kb = Number(/hugepages-(\d+)kB/.exec(d)?.[1] ?? 0);
      return kb >= 1048576 ? `${kb / 1048576}GB` : kb >= 1024 ? `${kb / 1024}MB` : `${kb}KB`;
    });
  } catch {
    return [];
  }
}

export function v1Stats(dirOf: (controller: string) => string | undefined, sizes: () => string[] = pageSizes): Stats {
  const acct = dirOf('cpuacct');
  const cpu = dirOf('cpu');
  const mem = dirOf('memory');
  const pids = dirOf('pids');
  const blkio = dirOf('blkio');
  const percpu = (f: string) => (acct ? (readCgroupFile(acct, f) ?? '').trim().split(/\s+/).filter(Boolean).map(Number) : []);
  const acctStat = acct ? readKeyValues(acct, 'cpuacct.stat') : {};
  const ticks = 1e9 / 100; // USER_HZ
  const thr = cpu ? readKeyValues(cpu, 'cpu.stat') : {};
  const raw = mem ? readKeyValues(mem, 'memory.stat') : {};
  const hugetlbDir = dirOf('hugetlb') ?? dirOf('unified');
  const hugetlb: Stats['hugetlb'] = {};
  if (hugetlbDir) {
    for (const size of sizes()) {
      const v1 = dirOf('hugetlb') !== undefined;
      hugetlb[size] = v1
        ? {
            usage: readNumber(hugetlbDir, `hugetlb.${size}.usage_in_bytes`),
            max: readNumber(hugetlbDir, `hugetlb.${size}.max_usage_in_bytes`),
            failcnt: readNumber(hugetlbDir, `hugetlb.${size}.failcnt`),
          }
        : {
            usage: readNumber(hugetlbDir, `hugetlb.${size}.current`),
            failcnt: readKeyValues(hugetlbDir, `hugetlb.${size}.events`).max ?? 0,
          };
    }
  }
  return {
    cpu: {
      usage: {
        total: acct ? readNumber(acct, 'cpuacct.usage') : 0,
        percpu: percpu('cpuacct.usage_percpu'),
        percpu_kernel: percpu('cpuacct.usage_percpu_sys'),
        percpu_user: percpu('cpuacct.usage_percpu_user'),
        kernel: (acctStat.system ?? 0) * ticks,
        user: (acctStat.user ?? 0) * ticks,
      },
      throttling: { periods: thr.nr_periods ?? 0, throttled_periods: thr.nr_throttled ?? 0, throttled_time: thr.throttled_time ?? 0 },
    },
    memory: {
      cache: raw.cache ?? 0,
      usage: entry(mem, 'memory'),
      swap: entry(mem, 'memory.memsw'),
      kernel: entry(mem, 'memory.kmem'),
      kernelTCP: entry(mem, 'memory.kmem.tcp'),
      raw,
    },
    pids: { current: pids ? readNumber(pids, 'pids.current') : 0, limit: pids ? limitOf(pids, 'pids.max') : 0 },
    blkio: {
      ioServiceBytesRecursive: blkioEntries(blkio, 'blkio.throttle.io_service_bytes_recursive'),
      ioServicedRecursive: blkioEntries(blkio, 'blkio.throttle.io_serviced_recursive'),
    },
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}

export function v2Stats(dir: string, sizes: () => string[] = pageSizes): Stats {
  const cpu = readKeyValues(dir, 'cpu.stat');
  const raw = readKeyValues(dir, 'memory.stat');
  const memEvents = readKeyValues(dir, 'memory.events');
  const io: BlkioEntry[] = [];
  const ops: BlkioEntry[] = [];
  for (const line of (readCgroupFile(dir, 'io.stat') ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (.*)$/.exec(line.trim());
    if (!m) continue;
    const kv: Record<string, string> = Object.fromEntries(m[3].split(' ').map((p) => p.split('=') as [string, string]));
    const dev = { major: Number(m[1]), minor: Number(m[2]) };
    io.push({ ...dev, op: 'Read', value: Number(kv.rbytes ?? 0) }, { ...dev, op: 'Write', value: Number(kv.wbytes ?? 0) });
    ops.push({ ...dev, op: 'Read', value: Number(kv.rios ?? 0) }, { ...dev, op: 'Write', value: Number(kv.wios ?? 0) });
  }
  const hugetlb: Stats['hugetlb'] = {};
  for (const size of sizes())
    if (readCgroupFile(dir, `hugetlb.${size}.current`) !== undefined)
      hugetlb[size] = {
        usage: readNumber(dir, `hugetlb.${size}.current`),
        max: limitOf(dir, `hugetlb.${size}.max`),
        failcnt: readKeyValues(dir, `hugetlb.${size}.events`).max ?? 0,
      };
  return {
    cpu: {
      usage: { total: (cpu.usage_usec ?? 0) * 1000, kernel: (cpu.system_usec ?? 0) * 1000, user: (cpu.user_usec ?? 0) * 1000 },
      throttling: {
        periods: cpu.nr_periods ?? 0,
        throttled_periods: cpu.nr_throttled ?? 0,
        throttled_time: (cpu.throttled_usec ?? 0) * 1000,
      },
    },
    memory: {
      cache: raw.file ?? 0,
      usage: {
        limit: limitOf(dir, 'memory.max'),
        usage: readNumber(dir, 'memory.current'),
        max: readNumber(dir, 'memory.peak'),
        failcnt: memEvents.max ?? 0,
      },
      swap: { limit: limitOf(dir, 'memory.swap.max'), usage: readNumber(dir, 'memory.swap.current'), failcnt: 0 },
      kernel: { limit: 0, failcnt: 0 },
      kernelTCP: { limit: 0, failcnt: 0 },
      raw,
    },
    pids: { current: readNumber(dir, 'pids.current'), limit: limitOf(dir, 'pids.max') },
    blkio: { ioServiceBytesRecursive: io, ioServicedRecursive: ops },
    hugetlb,
    intel_rdt: {},
    network_interfaces: null,
  };
}
