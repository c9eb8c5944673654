// One line of `tcr stats`: a container's cgroup figures (src/cgroups/stats.ts)
// and its network namespace's counters, worded as docker's stats prints them
// (CPU % over a sampling interval, memory without the inactive page cache,
// network and block I/O in decimal units, memory in binary units).
import fs from 'node:fs';
import os from 'node:os';
import type { Stats } from '../cgroups/stats.js';
import { binarySize, decimalSize } from './human-units.js';

/** One reading of a container and of the host's CPU time, to take a CPU % between two. */
export interface Sample {
  stats?: Stats;
  /** the host's CPU time in ns, every CPU summed (/proc/stat's "cpu" line) */
  systemNs: number;
  net: { rx: number; tx: number };
}

/** USER_HZ: /proc/stat counts in hundredths of a second. */
const NS_PER_TICK = 1e7;

export function systemCpuNs(): number {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
  return (
    line
      .trim()
      .split(/\s+/)
      .slice(1, 8) // user nice system idle iowait irq softirq, as docker sums them
      .reduce((a, b) => a + Number(b), 0) * NS_PER_TICK
  );
}

/** Bytes in and out of every interface but lo, from the network namespace of `pid`. */
export function netCounters(pid: number | undefined): { rx: number; tx: number } {
  const sum = { rx: 0, tx: 0 };
  if (!pid) return sum;
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/net/dev`, 'utf8');
  } catch {
    return sum;
  }
  for (const line of text.split('\n').slice(2)) {
    const m = /^\s*([^:]+):\s*(.*)$/.exec(line);
    if (!m || m[1] === 'lo') continue;
    const f = m[2].trim().split(/\s+/).map(Number);
    sum.rx += f[0] ?? 0;
    sum.tx += f[8] ?? 0;
  }
  return sum;
}

function onlineCpus(stats: Stats): number {
  return stats.cpu.usage.percpu?.filter((n) => n > 0).length || os.cpus().length;
}

/** docker's memory usage: without the inactive file cache, which the kernel frees first. */
function memoryUsage(stats: Stats): number {
  const raw = stats.memory.raw ?? {};
  const usage = stats.memory.usage.usage ?? 0;
  const inactive = raw.total_inactive_file ?? raw.inactive_file;
  return inactive !== undefined && inactive < usage ? usage - inactive : usage;
}

/** The cgroup's limit, or the host's memory where there is none (v1's "no limit" is a huge number). */
function memoryLimit(stats: Stats): number {
  const l = stats.memory.usage.limit;
  return l > 0 && l < os.totalmem() ? l : os.totalmem();
}

function blockIo(stats: Stats): { read: number; write: number } {
  const io = { read: 0, write: 0 };
  for (const e of stats.blkio.ioServiceBytesRecursive ?? []) {
    const op = e.op.toLowerCase();
    if (op === 'read') io.read += e.value;
    else if (op === 'write') io.write += e.value;
  }
  return io;
}

const percent = (v: number) => `${(Number.isFinite(v) ? v : 0).toFixed(2)}%`;

/** The fields of docker's stats formatting context; a stopped container's are zeros, as docker shows them. */
export function statsFields(id: string, prev: Sample | undefined, now: Sample) {
  const s = now.stats;
  if (!s)
    return {
      BlockIO: '0B / 0B',
      CPUPerc: '0.00%',
      Container: id,
      ID: id,
      MemPerc: '0.00%',
      MemUsage: '0B / 0B',
      Name: id,
      NetIO: '0B / 0B',
      PIDs: '0',
    };
  const cpuDelta = (s.cpu.usage.total ?? 0) - (prev?.stats?.cpu.usage.total ?? 0);
  const systemDelta = now.systemNs - (prev?.systemNs ?? 0);
  const cpu = prev?.stats && systemDelta > 0 && cpuDelta >= 0 ? (cpuDelta / systemDelta) * onlineCpus(s) * 100 : 0;
  const mem = memoryUsage(s);
  const limit = memoryLimit(s);
  const io = blockIo(s);
  return {
    BlockIO: `${decimalSize(io.read)} / ${decimalSize(io.write)}`,
    CPUPerc: percent(cpu),
    Container: id,
    ID: id,
    MemPerc: percent(limit ? (mem / limit) * 100 : 0),
    MemUsage: `${binarySize(mem)} / ${binarySize(limit)}`,
    Name: id,
    NetIO: `${decimalSize(now.net.rx)} / ${decimalSize(now.net.tx)}`,
    PIDs: String(s.pids.current ?? 0),
  };
}

export const STATS_HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Container: 'CONTAINER',
  Name: 'NAME',
  CPUPerc: 'CPU %',
  MemUsage: 'MEM USAGE / LIMIT',
  MemPerc: 'MEM %',
  NetIO: 'NET I/O',
  BlockIO: 'BLOCK I/O',
  PIDs: 'PIDS',
};

export const DEFAULT_STATS_TABLE =
  'table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}';
