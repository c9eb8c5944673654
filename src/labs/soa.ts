// soa: the pencil factory as a monolith (one container) and as services
// (tcr compose: gateway, assembly, lead, case), asked for the same pencils;
// then lead made the bottleneck and scaled from one replica to three. Every
// figure is a count of answers, a clock, or a cgroup's own CPU counters.
import fs from 'node:fs';
import type { Lab, LabContext, LabResult } from './lab.js';
import type { ContainerCgroup, CpuCounters } from './cgroup-counters.js';
import { LabContainers, loadAverage } from './lab-containers.js';
import { ServicesFactory, startMonolith, type Replica, type ServiceName } from './soa-factory.js';
import { countBy, freePort, load, untilServing, type LoadResult } from './soa-load.js';
import { soaReport } from './soa-report.js';

export interface SoaOptions {
  /** requests sent one at a time, for the latency */
  sequential?: number;
  /** requests sent `concurrency` at a time, for the throughput */
  requests?: number;
  concurrency?: number;
  /** milliseconds a lead replica takes per lead, one at a time, in the bottleneck runs (LEAD_MS of lead/cgi-bin/lead) */
  leadMs?: number;
  /** requests of each bottleneck run (lead=1, lead=replicas), sent `scaledConcurrency` at a time */
  scaledRequests?: number;
  scaledConcurrency?: number;
  replicas?: number;
}

export function soaLab(o: SoaOptions = {}): Lab {
  const opts: Required<SoaOptions> = {
    sequential: 20,
    requests: 40,
    concurrency: 4,
    leadMs: 500,
    scaledRequests: 24,
    scaledConcurrency: 6,
    replicas: 3,
    ...o,
  };
  return {
    name: 'soa',
    title: 'A monolith and services: the pencil factory, requests served, and scaling one service',
    run: (ctx) => runSoa(ctx, opts),
  };
}

export const soa = soaLab();

/** What a set of containers' cgroups accounted while a load ran. */
export interface CpuUse {
  label: string;
  service?: ServiceName;
  /** CPU time used, in milliseconds */
  cpuMs: number;
  /** fraction of the CFS periods in which the container's quota ran out */
  throttled: number;
}

export interface Measured {
  load: LoadResult;
  cpu: CpuUse[];
}

async function measured(
  url: string,
  requests: number,
  concurrency: number,
  cgroups: { label: string; service?: ServiceName; cgroup: ContainerCgroup }[],
) {
  const before: CpuCounters[] = cgroups.map((c) => c.cgroup.cpu());
  const result = await load(url, requests, concurrency);
  const cpu = cgroups.map(({ label, service, cgroup }, i) => {
    const after = cgroup.cpu();
    const periods = after.periods - before[i].periods;
    return {
      label,
      service,
      cpuMs: (after.usageNs - before[i].usageNs) / 1e6,
      throttled: periods ? (after.throttled - before[i].throttled) / periods : 0,
    };
  });
  return { load: result, cpu };
}

export interface ScaledRun extends Measured {
  replicas: number;
  /** leads by replica, from the answers and from each replica's own log */
  fromAnswers: Map<string, number>;
  fromLogs: Map<string, number>;
}

export interface SoaData {
  opts: Required<SoaOptions>;
  project: string;
  monolith: { latency: Measured; throughput: Measured };
  services: { latency: Measured; throughput: Measured };
  scaled: ScaledRun[];
  cpuSource: string;
  load: string;
}

const asCgroups = (replicas: Replica[]) => replicas.map((r) => ({ label: r.name, service: r.service, cgroup: r.cgroup }));

/** The lab's containers and project go also when the user presses Ctrl-C: the signal waits for them, then ends the process. */
function removedOnSignal(cleanup: () => Promise<void>, scratch: string): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => {
      fs.rmSync(scratch, { recursive: true, force: true });
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

async function scaledRun(ctx: LabContext, factory: ServicesFactory, opts: Required<SoaOptions>, replicas: number): Promise<ScaledRun> {
  ctx.progress(`lead made the bottleneck (${opts.leadMs} ms per lead, one at a time), --scale lead=${replicas}`);
  await factory.up(replicas, opts.leadMs);
  await untilServing(factory.url, 60_000);
  let running = await factory.replicas();
  let leads = running.filter((r) => r.service === 'lead');
  if (leads.length !== replicas) throw new Error(`--scale lead=${replicas}: ${leads.length} lead replicas run`);
  // a replica that just started is served once the assembly's lookups of "lead" find it
  const deadline = Date.now() + 30_000;
  for (let seen = new Set<string>(); seen.size < replicas && Date.now() < deadline;) {
    for (const p of (await load(factory.url, replicas, 1)).pencils) seen.add(p.lead);
  }
  running = await factory.replicas();
  leads = running.filter((r) => r.service === 'lead');
  const logged = async () =>
    new Map(await Promise.all(leads.map(async (l) => [l.name, await factory.leadsLogged(l.name)] as [string, number])));
  const before = await logged();
  const m = await measured(factory.url, opts.scaledRequests, opts.scaledConcurrency, asCgroups(running));
  const after = await logged();
  const fromLogs = new Map([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)]));
  return { ...m, replicas, fromAnswers: countBy(m.load.pencils, 'lead'), fromLogs };
}

async function runSoa(ctx: LabContext, opts: Required<SoaOptions>): Promise<LabResult> {
  const containers = new LabContainers(ctx);
  const factory = new ServicesFactory(ctx, containers.tag, await freePort());
  // one cleanup, whether the lab ends or a signal ends it: both wait for the same removal to finish
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> =>
    (cleaning ??= (async () => {
      await containers.removeAll();
      await factory.down();
    })());
  const release = removedOnSignal(cleanup, ctx.scratch);
  try {
    ctx.progress(
      `the monolith: one container, ${opts.sequential} requests one at a time, ${opts.requests} at ${opts.concurrency} at a time`,
    );
    const mono = await startMonolith(ctx, containers, await freePort());
    await untilServing(mono.url, 30_000);
    const monoCgroup = [{ label: 'monolith', cgroup: mono.cgroup }];
    const monolith = {
      latency: await measured(mono.url, opts.sequential, 1, monoCgroup),
      throughput: await measured(mono.url, opts.requests, opts.concurrency, monoCgroup),
    };
    await containers.removeAll();

    ctx.progress(`the services: tcr compose -p ${factory.project} up -d, the same requests`);
    await factory.up(1, 0);
    await untilServing(factory.url, 60_000);
    const running = asCgroups(await factory.replicas());
    const services = {
      latency: await measured(factory.url, opts.sequential, 1, running),
      throughput: await measured(factory.url, opts.requests, opts.concurrency, running),
    };
    const scaled = [await scaledRun(ctx, factory, opts, 1), await scaledRun(ctx, factory, opts, opts.replicas)];
    return soaReport({ opts, project: factory.project, monolith, services, scaled, cpuSource: mono.cgroup.cpuSource, load: loadAverage() });
  } finally {
    release();
    await cleanup();
  }
}
