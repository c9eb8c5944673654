// The soa lab's text, numbers and pictures, from what its run measured.
import os from 'node:os';
import type { LabNumber, LabResult } from './lab.js';
import { SERVICES } from './soa-factory.js';
import { median, throughput } from './soa-load.js';
import type { Measured, SoaData } from './soa.js';
import { barChart, colorFor, fmt } from './svg.js';

/** one colour per factory in every picture */
const MONOLITH = colorFor(0);
const SERVICES_COLOR = colorFor(1);
const SCALED = colorFor(2);

const latencyOf = (m: Measured): number => median(m.load.latenciesMs);
const cpuMs = (ms: Measured[], service?: string): number =>
  ms.flatMap((m) => m.cpu.filter((c) => service === undefined || c.service === service)).reduce((a, c) => a + c.cpuMs, 0);
const pencils = (ms: Measured[]): number => ms.reduce((a, m) => a + m.load.pencils.length, 0);
/** CPU milliseconds per pencil, from the cgroups' counters over both loads of a factory */
const perPencil = (ms: Measured[], service?: string): number => (pencils(ms) ? cpuMs(ms, service) / pencils(ms) : 0);
const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const sum = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const pct = (f: number): string => `${fmt(f * 100)}%`;

export function soaReport(d: SoaData): LabResult {
  const monoRuns = [d.monolith.latency, d.monolith.throughput];
  const serviceRuns = [d.services.latency, d.services.throughput];
  const monoLatency = latencyOf(d.monolith.latency);
  const servicesLatency = latencyOf(d.services.latency);
  const hops = 3; // gateway -> assembly, assembly -> lead, assembly -> case
  const hopMs = (servicesLatency - monoLatency) / hops;
  const monoRate = throughput(d.monolith.throughput.load);
  const servicesRate = throughput(d.services.throughput.load);
  const [one, many] = d.scaled;
  const speedup = throughput(one.load) ? throughput(many.load) / throughput(one.load) : 0;
  const failures = [...monoRuns, ...serviceRuns, ...d.scaled].flatMap((m) => m.load.failures);
  const leadCpuPerLead = sum(one.fromLogs) ? cpuMs([one], 'lead') / sum(one.fromLogs) : 0;
  const c = d.opts.concurrency;
  const sc = d.opts.scaledConcurrency;
  const assemblyThrottled = mean(d.services.throughput.cpu.filter((x) => x.service === 'assembly').map((x) => x.throttled));
  const capacity = (replicas: number): number => (replicas * 1000) / d.opts.leadMs;

  const numbers: LabNumber[] = [
    { name: 'project', value: d.project },
    { name: 'monolith-latency-ms', value: monoLatency, unit: 'ms' },
    { name: 'services-latency-ms', value: servicesLatency, unit: 'ms' },
    { name: 'hop-ms', value: hopMs, unit: 'ms' },
    { name: 'monolith-throughput', value: monoRate, unit: 'pencils/s' },
    { name: 'services-throughput', value: servicesRate, unit: 'pencils/s' },
    { name: 'monolith-cpu-ms', value: perPencil(monoRuns), unit: 'ms per pencil' },
    { name: 'services-cpu-ms', value: perPencil(serviceRuns), unit: 'ms per pencil' },
    ...SERVICES.map((s) => ({ name: `services-cpu-ms-${s}`, value: perPencil(serviceRuns, s), unit: 'ms per pencil' })),
    { name: 'services-throttled-assembly', value: assemblyThrottled },
    { name: 'lead-cpu-ms-per-lead', value: leadCpuPerLead, unit: 'ms' },
    ...d.scaled.flatMap((r) => {
      const k = `lead${r.replicas}`;
      return [
        { name: `${k}-sent`, value: r.load.requests },
        { name: `${k}-answered`, value: r.load.pencils.length },
        { name: `${k}-logged`, value: sum(r.fromLogs) },
        { name: `${k}-replicas-used`, value: r.fromAnswers.size },
        { name: `${k}-throughput`, value: throughput(r.load), unit: 'pencils/s' },
        { name: `${k}-capacity`, value: capacity(r.replicas), unit: 'pencils/s' },
        { name: `${k}-latency-ms`, value: latencyOf(r), unit: 'ms' },
        {
          name: `${k}-per-replica`,
          value: [...r.fromLogs].map(([name, n]) => `${name}: ${r.fromAnswers.get(name) ?? 0} (log ${n})`).join(', '),
        },
      ];
    }),
    { name: 'scale-speedup', value: speedup },
    { name: 'failures', value: failures.length },
  ];

  const perService = SERVICES.map((s) => `${s} ${fmt(perPencil(serviceRuns, s))}`).join(', ');
  const perReplica = [...many.fromLogs]
    .map(([name, n]) => `${name.slice(d.project.length + 1)} ${many.fromAnswers.get(name) ?? 0} (its log: ${n})`)
    .join(', ');
  const lines = [
    `One pencil is a lead and a case, assembled. The monolith is one container (busybox httpd; --cpus 1, 128 MiB: what the four`,
    `services get together) whose CGI runs the example's lead and case scripts as programs. The services are`,
    `examples/pencil-factory brought up by tcr compose as project ${d.project}: gateway -> assembly -> lead and case, each`,
    `its own container (0.25 CPU) on a compose network, every step an HTTP request to another container.`,
    `Load average ${d.load} on ${os.cpus().length} CPUs: one run on a shared machine; CPU times come from ${d.cpuSource}.`,
    '',
    `Requests served: ${d.opts.sequential} one at a time, then ${d.opts.requests} with ${c} in flight.`,
    `  monolith: median ${fmt(monoLatency)} ms per pencil, ${fmt(monoRate)} pencils/s, ${fmt(perPencil(monoRuns))} ms of CPU per pencil`,
    `  services: median ${fmt(servicesLatency)} ms per pencil, ${fmt(servicesRate)} pencils/s, ${fmt(perPencil(serviceRuns))} ms of CPU per pencil`,
    `            (by service: ${perService} ms)`,
    `The same pencil costs about ${fmt(hopMs)} ms more per network hop (${hops} hops): a connection, a new CGI process in`,
    `the next container, a name lookup and the answer's way back. With ${c} in flight the assembly (the most of that work, a`,
    `quarter of a CPU) ran out of its CPU quota in ${pct(assemblyThrottled)} of its periods${assemblyThrottled > 0.5 ? ': the slowest service sets the pace' : ''}.`,
    '',
    `Scaling one service: each lead replica now has one lathe and makes one lead at a time, ${d.opts.leadMs} ms each`,
    `(LEAD_MS in lead/cgi-bin/lead): lead is the bottleneck, at most ${fmt(capacity(1))} leads/s per replica. ${d.opts.scaledRequests} requests, ${sc} in flight:`,
    ...d.scaled.map(
      (r) =>
        `  --scale lead=${r.replicas}: ${fmt(throughput(r.load))} pencils/s (the lathes allow ${fmt(capacity(r.replicas))}), median ${fmt(latencyOf(r))} ms per pencil`,
    ),
    `${many.replicas} lead replicas served ${fmt(speedup)} times the pencils of one, and nothing else changed: only lead was scaled,`,
    `as only it needed to be (a monolith scales as a whole). The assembly spread the leads round robin, by answer:`,
    `  ${perReplica}; the replicas' logs (one line per lead) count ${sum(many.fromLogs)} for ${many.load.requests} requests sent.`,
    `Waiting is not CPU: lead's cgroups accounted ${fmt(leadCpuPerLead)} ms of CPU per ${d.opts.leadMs} ms lead.`,
    failures.length ? `${failures.length} requests failed: ${failures.slice(0, 3).join('; ')}` : 'Every request got a pencil.',
  ];

  const rates = barChart({
    title: `Pencils per second (${c} in flight; slow lead: ${sc})`,
    unit: '/s',
    bars: [
      { label: 'monolith', value: monoRate, color: MONOLITH },
      { label: 'services', value: servicesRate, color: SERVICES_COLOR },
      ...d.scaled.map((r) => ({ label: `${d.opts.leadMs} ms lead, lead=${r.replicas}`, value: throughput(r.load), color: SCALED })),
    ],
  });
  const latency = barChart({
    title: 'One pencil at a time: median latency and CPU per pencil',
    unit: ' ms',
    bars: [
      { label: 'monolith: latency', value: monoLatency, color: MONOLITH },
      { label: 'services: latency', value: servicesLatency, color: SERVICES_COLOR },
      { label: 'monolith: CPU', value: perPencil(monoRuns), color: MONOLITH },
      ...SERVICES.map((s) => ({ label: `services: CPU, ${s}`, value: perPencil(serviceRuns, s), color: SERVICES_COLOR })),
    ],
  });
  const spread = barChart({
    title: `Leads per replica, --scale lead=${many.replicas} (${many.load.requests} requests)`,
    bars: [...many.fromLogs].map(([name, n]) => ({
      label: name.slice(d.project.length + 1),
      value: many.fromAnswers.get(name) ?? 0,
      note: `(log: ${n})`,
      color: SCALED,
    })),
  });
  return {
    text: lines.join('\n'),
    numbers,
    figures: [
      { name: 'soa-throughput', title: 'Monolith, services, and services with one service scaled', svg: rates },
      { name: 'soa-latency', title: 'The cost of the network hops', svg: latency },
      { name: 'soa-replicas', title: 'Requests spread over the lead replicas', svg: spread },
    ],
  };
}
