// The kernel's own counters of a running container, found from its init's
// /proc/PID/cgroup: the labs report what the cgroup accounted, not what the
// container printed or what was asked for. v1 (and hybrid) hosts keep CPU
// time in cpuacct.usage and memory in memory.usage_in_bytes; pure v2 hosts in
// cpu.stat and memory.current.
import fs from 'node:fs';
import path from 'node:path';
import { cgroupLayout } from '../cgroups/detect.js';
import { readCgroupFile, readKeyValues, readNumber } from '../cgroups/files.js';

export interface CpuCounters {
  /** CPU time the cgroup's tasks used, in nanoseconds */
  usageNs: number;
  /** CFS periods seen and periods in which the quota ran out (0 without a quota) */
  periods: number;
  throttled: number;
}

export interface MemoryCounters {
  usage: number;
  limit: number;
  /** the kernel's high-water mark (v1 max_usage_in_bytes, v2 memory.peak where the kernel has it) */
  peak?: number;
  /** kills by the cgroup's OOM killer (v1 memory.oom_control oom_kill, v2 memory.events oom_kill) */
  oomKills: number;
  /** times the limit was hit (v1 memory.failcnt, v2 memory.events max) */
  limitHits: number;
}

export interface ContainerCgroup {
  /** the files the numbers come from, for the lab's text */
  cpuSource: string;
  memorySource: string;
  cpu(): CpuCounters;
  memory(): MemoryCounters;
}

/** The directories of `pid`'s cgroups, by controller (v1) or the one unified directory (v2). */
export function containerCgroup(pid: number): ContainerCgroup {
  const layout = cgroupLayout();
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n');
  const pathOf = (controller: string): string | undefined => {
    for (const l of lines) {
      const m = /^\d+:([^:]*):(.*)$/.exec(l);
      if (m && m[1].split(',').includes(controller)) return m[2];
    }
    return undefined;
  };
  if (layout.unified) {
    const rel = lines.map((l) => /^0::(.*)$/.exec(l)?.[1]).find((p) => p !== undefined) ?? '/';
    return v2Counters(path.join(layout.root, rel));
  }
  const dirOf = (controller: string): string => {
    const name = [...layout.controllers.entries()].find(([, set]) => set.has(controller))?.[0];
    const rel = pathOf(controller);
    if (!name || rel === undefined) throw new Error(`no ${controller} cgroup for pid ${pid}`);
    const mountRoot = layout.mountRoots.get(name) ?? '/';
    return path.join(layout.mountPoints.get(name)!, path.posix.relative(mountRoot, rel));
  };
  return v1Counters(dirOf('cpuacct'), dirOf('cpu'), dirOf('memory'));
}

function v1Counters(acct: string, cpuDir: string, mem: string): ContainerCgroup {
  return {
    cpuSource: `${acct}/cpuacct.usage, ${cpuDir}/cpu.stat`,
    memorySource: `${mem}/memory.usage_in_bytes, memory.max_usage_in_bytes, memory.failcnt, memory.oom_control`,
    cpu: () => {
      const stat = readKeyValues(cpuDir, 'cpu.stat');
      return { usageNs: readNumber(acct, 'cpuacct.usage'), periods: stat.nr_periods ?? 0, throttled: stat.nr_throttled ?? 0 };
    },
    memory: () => ({
      usage: readNumber(mem, 'memory.usage_in_bytes'),
      limit: readNumber(mem, 'memory.limit_in_bytes'),
      peak: readNumber(mem, 'memory.max_usage_in_bytes'),
      oomKills: readKeyValues(mem, 'memory.oom_control').oom_kill ?? 0,
      limitHits: readNumber(mem, 'memory.failcnt'),
    }),
  };
}

function v2Counters(dir: string): ContainerCgroup {
  return {
    cpuSource: `${dir}/cpu.stat`,
    memorySource: `${dir}/memory.current, memory.max, memory.events`,
    cpu: () => {
      const stat = readKeyValues(dir, 'cpu.stat');
      return { usageNs: (stat.usage_usec ?? 0) * 1000, periods: stat.nr_periods ?? 0, throttled: stat.nr_throttled ?? 0 };
    },
    memory: () => {
      const events = readKeyValues(dir, 'memory.events');
      const peak = readCgroupFile(dir, 'memory.peak');
      return {
        usage: readNumber(dir, 'memory.current'),
        limit: readNumber(dir, 'memory.max'),
        peak: peak === undefined ? undefined : Number(peak.trim()),
        oomKills: events.oom_kill ?? 0,
        limitHits: events.max ?? 0,
      };
    },
  };
}
