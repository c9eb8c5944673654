// memory-limit: what -m does when a container asks for more. A shell grows a
// variable by 1 MiB steps (busybox has no stress tool) inside a container
// with -m; the lab samples the cgroup's memory usage while it grows and reads
// the OOM kill from the cgroup's own event counters.
import type { Lab, LabContext, LabResult } from './lab.js';
import { LabContainers, loadAverage, sleep } from './lab-containers.js';
import type { MemoryCounters } from './cgroup-counters.js';
import { fmt, lineChart } from './svg.js';

// Each step appends 1 MiB of 'x' to $x (tr turns /dev/zero's NULs into text: a shell drops NULs), then pauses,
// so the curve is slow enough to sample. The outer shell reports how the grower ended and stays, so the cgroup
// (and its counters) outlive the kill until the lab has read them.
const GROW = `x=; i=0; while :; do x="$x$(head -c 1048576 /dev/zero | tr '\\000' x)"; i=$((i+1)); echo "grown to $i MiB"; usleep 100000; done`;
const INIT = 'sh -c "$GROW"; echo "grower exit status $?"; sleep 60';

const MiB = 1024 * 1024;

export interface MemoryLimitOptions {
  limitMiB?: number;
  /** the longest the lab waits for the kill */
  timeoutMs?: number;
  sampleMs?: number;
}

export function memoryLimitLab(o: MemoryLimitOptions = {}): Lab {
  return {
    name: 'memory-limit',
    title: 'A memory limit (-m): the usage curve and the OOM kill in the cgroup',
    run: (ctx) => runMemoryLimit(ctx, o.limitMiB ?? 32, o.timeoutMs ?? 30_000, o.sampleMs ?? 25),
  };
}

export const memoryLimit = memoryLimitLab();

async function runMemoryLimit(ctx: LabContext, limitMiB: number, timeoutMs: number, sampleMs: number): Promise<LabResult> {
  const lab = new LabContainers(ctx);
  try {
    ctx.progress(`a container with -m ${limitMiB}m growing a shell variable 1 MiB at a time`);
    // --memory-swap equal to -m: no swap to spill into, the limit is the limit
    const m = `${limitMiB}m`;
    const c = await lab.start('mem', ['-m', m, '--memory-swap', m, '-e', `GROW=${GROW}`, 'busybox', 'sh', '-c', INIT]);
    const samples: [number, number][] = [];
    const t0 = Date.now();
    let last: MemoryCounters = c.cgroup.memory();
    let killedAt: number | undefined;
    while (Date.now() - t0 < timeoutMs) {
      last = c.cgroup.memory();
      samples.push([(Date.now() - t0) / 1000, last.usage]);
      if (last.oomKills > 0) killedAt ??= Date.now();
      // a few samples after the kill show the memory given back
      if (killedAt !== undefined && Date.now() - killedAt > 500) break;
      await sleep(sampleMs);
    }
    const logs = await lab.logs(c.name);
    const status = Number(/grower exit status (\d+)/.exec(logs)?.[1] ?? NaN);
    const grown = Math.max(0, ...[...logs.matchAll(/grown to (\d+) MiB/g)].map((g) => Number(g[1])));
    return report({ limitMiB, samples, last, status, grown, source: c.cgroup.memorySource });
  } finally {
    await lab.removeAll();
  }
}

function report(r: {
  limitMiB: number;
  samples: [number, number][];
  last: MemoryCounters;
  status: number;
  grown: number;
  source: string;
}): LabResult {
  const { last, samples } = r;
  const sampledPeak = Math.max(0, ...samples.map((s) => s[1]));
  const end = samples.length ? samples[samples.length - 1][0] : 0;
  const killed = last.oomKills > 0;
  const lines = [
    `A container with -m ${r.limitMiB}m (and --memory-swap ${r.limitMiB}m: no swap) runs a shell that grows a variable`,
    `1 MiB at a time. The lab read its cgroup every ~25 ms (${samples.length} samples over ${fmt(end)} s): ${r.source}.`,
    `Machine load average: ${loadAverage()} (a busy machine only slows the growth, not the limit).`,
    '',
    `The limit in the cgroup: ${fmt(last.limit / MiB)} MiB. Highest usage sampled: ${fmt(sampledPeak / MiB)} MiB;`,
    `the kernel's own high-water mark: ${last.peak === undefined ? 'not kept by this kernel' : `${fmt(last.peak / MiB)} MiB`}.`,
    `The grower printed up to "${r.grown} MiB" (its string is copied while it grows, so it needs more than that).`,
    killed
      ? `The kernel hit the limit ${last.limitHits} times and its OOM killer killed ${last.oomKills} process(es) in the cgroup;`
      : `No OOM kill was counted within the lab's time (the grower did not reach the limit).`,
    killed ? `the grower's exit status was ${r.status} (128 + 9: SIGKILL), while the container's init lived on.` : '',
    `A VM with ${r.limitMiB} MiB would see a small machine and swap or kill inside its own kernel; a container shares the`,
    `host kernel, which counts its pages against the cgroup and kills inside it when it will not fit.`,
  ].filter((l) => l !== '');
  const chart = lineChart({
    title: `Memory of a container with -m ${r.limitMiB}m${killed ? ': OOM-killed at the limit' : ''}`,
    xLabel: 'seconds since start',
    yLabel: 'MiB',
    series: [
      { name: 'usage (cgroup)', points: samples.map(([t, u]) => [t, u / MiB] as [number, number]) },
      {
        name: `limit ${fmt(last.limit / MiB)} MiB`,
        color: '#e15759',
        points: [
          [0, last.limit / MiB],
          [end, last.limit / MiB],
        ],
      },
    ],
  });
  return {
    text: lines.join('\n'),
    numbers: [
      { name: 'limit', value: last.limit, unit: 'B' },
      { name: 'sampled-peak', value: sampledPeak, unit: 'B' },
      { name: 'kernel-peak', value: last.peak ?? NaN, unit: 'B' },
      { name: 'oom-kills', value: last.oomKills },
      { name: 'limit-hits', value: last.limitHits },
      { name: 'grower-status', value: r.status },
      { name: 'samples', value: samples.length },
    ],
    figures: [{ name: 'memory-limit', title: 'Memory usage against the limit', svg: chart }],
  };
}
