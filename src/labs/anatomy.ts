// The anatomy of a container: one `tcr run --trace=FILE.json` of a bundle,
// every step of its launch plan with its time, drawn as a timeline.
import fs from 'node:fs';
import path from 'node:path';
import type { TraceData, TraceSide } from '../container/trace-record.js';
import { traceFigure } from './anatomy-figure.js';
import { labBundle, runLabContainer } from './bundle-dir.js';
import type { Lab, LabNumber } from './lab.js';
import { fmt } from './svg.js';
import { defaultSeccomp } from '../run/default-seccomp.js';

const ms = (n: number): string => `${fmt(n)} ms`;

function sums<K extends string>(data: TraceData, key: (s: TraceData['spans'][number]) => K): Map<K, number> {
  const m = new Map<K, number>();
  for (const s of data.spans) m.set(key(s), (m.get(key(s)) ?? 0) + (s.end - s.start));
  return m;
}

export const anatomy: Lab = {
  name: 'anatomy',
  title: 'Anatomy of a container: every step of one launch, timed',
  async run(ctx) {
    // docker's default seccomp profile, so the filter is one of the steps as in an image run
    const bundle = labBundle(ctx, 'bundle', ['true'], (spec) => (spec.linux = { ...spec.linux, seccomp: defaultSeccomp() }));
    const traceFile = path.join(ctx.scratch, 'trace.json');
    ctx.progress('running one container with --trace');
    await runLabContainer(ctx, 'anatomy', bundle, [`--trace=${traceFile}`]);
    const data = JSON.parse(fs.readFileSync(traceFile, 'utf8')) as TraceData;
    const t0 = Math.min(...data.spans.map((s) => s.start));
    const total = Math.max(...data.spans.map((s) => s.end)) - t0;
    const steps = new Set(data.spans.filter((s) => s.step !== undefined).map((s) => s.step)).size;
    // the init's sync steps are its waits for the runtime, whose work is drawn on the runtime's side
    const bySide = sums(data, (s) => (s.side === 'init' && s.kind === 'sync' ? 'waiting' : s.side));
    const byKind = [...sums(data, (s) => s.kind)].sort((a, b) => b[1] - a[1]);
    const slowest = [...data.spans].sort((a, b) => b.end - b.start - (a.end - a.start))[0];
    const sideMs = (side: TraceSide | 'waiting') => bySide.get(side) ?? 0;
    const numbers: LabNumber[] = [
      { name: 'plan steps', value: data.planSteps },
      { name: 'steps reported', value: steps },
      { name: 'spans drawn', value: data.spans.length },
      { name: 'launch, first span to last', value: Number(total.toFixed(3)), unit: 'ms' },
      ...(['runtime', 'executor', 'init', 'waiting'] as const).map((side) => ({
        name: side === 'waiting' ? 'init waiting for the runtime' : `time on the ${side} side`,
        value: Number(sideMs(side).toFixed(3)),
        unit: 'ms',
      })),
      ...byKind.map(([kind, t]) => ({ name: `${kind} steps`, value: Number(t.toFixed(3)), unit: 'ms' })),
    ];
    const seccomp = data.spans.find((s) => s.kind === 'seccomp');
    const text = [
      `One container (busybox, running \`true\`) was launched with --trace: its plan had ${data.planSteps} steps,`,
      `${steps} of them reported back with their time (the last, the exec, reports by replacing the init).`,
      `From the first span to the last: ${ms(total)}. The runtime (tcr in node) spent ${ms(sideMs('runtime'))}`,
      `reading the bundle, making the cgroup, building the plan and answering the init's sync points; the executor`,
      `${ms(sideMs('executor'))} starting and cloning the init into its new namespaces; the init ${ms(sideMs('init'))} in its own steps`,
      `(and ${ms(sideMs('waiting'))} waiting for the runtime at its sync points).`,
      `By kind: ${byKind.map(([k, t]) => `${k} ${ms(t)}`).join(', ')}.`,
      ...(seccomp ? [`Loading the seccomp filter ("${seccomp.label}") took ${ms(seccomp.end - seccomp.start)}.`] : []),
      `The longest single span: "${slowest.label}" (${slowest.side}), ${ms(slowest.end - slowest.start)}.`,
      "(The init's steps are drawn back to back, each with the duration the init measured for it.)",
      'A container is this list of system calls and nothing more: namespaces, then mounts and pivot_root,',
      'then credentials (user, capabilities), the seccomp filter, and the exec of the process.',
    ].join('\n');
    return { text, numbers, figures: [{ name: 'timeline', title: 'The launch plan, step by step', svg: traceFigure(data) }] };
  },
};
