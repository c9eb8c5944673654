// fractional-cpu: a machine's CPU handed out in fractions. Caps (--cpus, the
// CFS quota) and weights (cpu shares, which only matter under contention),
// each measured as the CPU time the container's cgroup accounted over a window.
import os from 'node:os';
import type { Lab, LabContext, LabNumber, LabResult } from './lab.js';
import { BundleContainers } from './bundle-containers.js';
import { LabContainers, loadAverage, sleep, type LabContainer } from './lab-containers.js';
import { barChart, fmt, lineChart } from './svg.js';

const BUSY = 'while :; do :; done';
/** docker's --cpus N: a quota of N periods per 100 ms period */
const PERIOD_US = 100_000;

export interface CpuShare {
  label: string;
  /** CPUs the container used per second of wall time, from its cgroup */
  got: number;
  /** fraction of the CFS periods in which the quota ran out */
  throttledFraction: number;
  usageNs: number;
  seconds: number;
}

/** Each container's CPU over the same window: the cgroup's CPU time divided by wall time. */
async function measure(containers: { label: string; c: LabContainer }[], windowMs: number): Promise<CpuShare[]> {
  const before = containers.map(({ c }) => c.cgroup.cpu());
  const t0 = process.hrtime.bigint();
  await sleep(windowMs);
  const after = containers.map(({ c }) => c.cgroup.cpu());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return containers.map(({ label }, i) => {
    const usageNs = after[i].usageNs - before[i].usageNs;
    const periods = after[i].periods - before[i].periods;
    const throttled = after[i].throttled - before[i].throttled;
    return { label, got: usageNs / 1e9 / seconds, throttledFraction: periods ? throttled / periods : 0, usageNs, seconds };
  });
}

export interface FractionalCpuOptions {
  /** how long each phase measures, after a short warm-up */
  windowMs?: number;
}

export function fractionalCpuLab(o: FractionalCpuOptions = {}): Lab {
  const windowMs = o.windowMs ?? 8000;
  return {
    name: 'fractional-cpu',
    title: 'Fractions of a CPU: quota caps (--cpus) and weights (cpu shares)',
    run: (ctx) => runFractionalCpu(ctx, windowMs),
  };
}

export const fractionalCpu = fractionalCpuLab();

export const QUOTAS = [0.25, 0.5, 1.0];

/** The lab's parent cgroup weighs as much as the kernel allows: the caps, not the machine's other tasks, limit it. */
const PARENT_SHARES = 262144;

async function runFractionalCpu(ctx: LabContext, windowMs: number): Promise<LabResult> {
  const lab = new BundleContainers(ctx, new LabContainers(ctx).tag);
  try {
    const weighted = lab.weightParent(PARENT_SHARES);
    ctx.progress(`three busy containers at --cpus ${QUOTAS.join(', ')}, measured together for ${windowMs / 1000} s`);
    const capped: { label: string; c: LabContainer }[] = [];
    for (const q of QUOTAS) {
      const cpu = { quota: Math.round(q * PERIOD_US), period: PERIOD_US };
      capped.push({ label: `--cpus ${q}`, c: await lab.start(`cpu${q * 100}`, BUSY, { cpu }) });
    }
    await sleep(1000);
    const caps = await measure(capped, windowMs);
    await lab.removeAll();

    lab.weightParent(PARENT_SHARES);
    ctx.progress(`two busy tenants on CPU 0, cpu shares 512 and 1024, for ${windowMs / 1000} s`);
    const tenants: { label: string; c: LabContainer }[] = [];
    for (const shares of [512, 1024])
      tenants.push({ label: `shares ${shares}`, c: await lab.start(`shares${shares}`, BUSY, { cpu: { shares, cpus: '0' } }) });
    await sleep(1000);
    const weights = await measure(tenants, windowMs);
    return report(caps, weights, capped[0].c.cgroup.cpuSource, weighted);
  } finally {
    await lab.removeAll();
  }
}

function report(caps: CpuShare[], weights: CpuShare[], source: string, weighted: string): LabResult {
  const [light, heavy] = weights;
  const ratio = light.got > 0 ? heavy.got / light.got : 0;
  const numbers: LabNumber[] = [
    ...caps.map((c, i) => ({ name: `cpus-${QUOTAS[i]}`, value: c.got, unit: 'CPU' })),
    ...caps.map((c, i) => ({ name: `throttled-${QUOTAS[i]}`, value: c.throttledFraction })),
    { name: 'shares-512', value: light.got, unit: 'CPU' },
    { name: 'shares-1024', value: heavy.got, unit: 'CPU' },
    { name: 'shares-ratio', value: ratio },
    { name: 'window', value: caps[0].seconds, unit: 's' },
  ];
  const lines = [
    `Each container runs a busy shell loop (one thread: at most 1 CPU). What it got is the CPU time its cgroup`,
    `accounted (${source}) divided by the wall time of the window (${fmt(caps[0].seconds)} s).`,
    `The machine's load average was ${loadAverage()} on ${osCpus()} CPUs: other work competes, so these are one noisy run.`,
    `Each container is an OCI bundle (tcr run --bundle) whose linux.resources carry the limit, in a parent cgroup the lab`,
    `made with the largest weight (${weighted}), so that the machine's other tasks (1024 each) do not hide the limits.`,
    '',
    `Caps: --cpus N is a CFS quota of N x 100 ms per 100 ms period. The three ran at the same time: they ask 1.75 CPUs`,
    `together, less than the machine's 2, so on a quiet machine the cap, not the others, decides each one's share.`,
    ...caps.map(
      (c, i) =>
        `  --cpus ${QUOTAS[i]}: got ${fmt(c.got)} CPU (${fmt((c.got / QUOTAS[i]) * 100)}% of its cap), quota exhausted in ${fmt(c.throttledFraction * 100)}% of the periods`,
    ),
    `A container never gets more than its cap; it gets less when the machine is busy (periods without throttling are`,
    `periods where it could not even use its quota; a one-thread loop never exhausts a whole CPU's quota).`,
    '',
    `Weights: two tenants pinned to CPU 0 (cpuset), cpu shares 512 and 1024, no cap. Shares only divide what is`,
    `contended: 512 got ${fmt(light.got)} CPU, 1024 got ${fmt(heavy.got)} CPU, a ratio of ${fmt(ratio)} (asked: 2).`,
    `Alone on the CPU either would get all of it; a weight is a proportion, a quota a ceiling.`,
  ];
  const capChart = lineChart({
    title: 'CPU asked (--cpus) and CPU the cgroup accounted',
    xLabel: 'asked (CPUs)',
    yLabel: 'got (CPUs)',
    series: [
      { name: 'asked', points: QUOTAS.map((q) => [q, q] as [number, number]) },
      { name: 'got (cgroup)', points: caps.map((c, i) => [QUOTAS[i], c.got] as [number, number]) },
    ],
  });
  const weightChart = barChart({
    title: `Two tenants on one CPU by weight: ratio ${fmt(ratio)} (asked 2)`,
    unit: ' CPU',
    bars: weights.map((w) => ({ label: w.label, value: w.got })),
  });
  return {
    text: lines.join('\n'),
    numbers,
    figures: [
      { name: 'fractional-cpu-quota', title: 'CPU by quota', svg: capChart },
      { name: 'fractional-cpu-shares', title: 'CPU by weight', svg: weightChart },
    ],
  };
}

const osCpus = (): number => os.cpus().length;
