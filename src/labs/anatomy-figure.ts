// The launch trace of one container as a timeline: the runtime's own work,
// the executor's, and each step of the init, grouped by side and coloured
// by kind. Shared by the anatomy lab and `tcr create|run --trace=FILE.svg`.
import type { TraceData, TraceSide } from '../container/trace-record.js';
import { timeline, type Lane } from './svg.js';

export const KIND_COLORS: Record<string, string> = {
  namespaces: '#4e79a7',
  mounts: '#f28e2b',
  cgroups: '#59a14f',
  credentials: '#e15759',
  seccomp: '#b07aa1',
  exec: '#edc948',
  sync: '#76b7b2',
  other: '#bab0ac',
};

const SIDES: [TraceSide, string][] = [
  ['runtime', 'runtime (tcr, node)'],
  ['executor', 'executor (native/executor.c, stage 1)'],
  ['init', "init (the container's pid 1, before its exec)"],
];

/** The spans' lanes, times in ms from the first span's start. */
export function traceLanes(data: TraceData): Lane[] {
  const t0 = Math.min(...data.spans.map((s) => s.start));
  return SIDES.map(([side, name]) => ({
    name,
    spans: data.spans
      .filter((s) => s.side === side)
      .map((s) => ({
        start: s.start - t0,
        end: s.end - t0,
        kind: s.kind,
        label: s.step === undefined || side === 'runtime' ? s.label : `${String(s.step).padStart(2)} ${s.label}`,
      })),
  })).filter((l) => l.spans.length > 0);
}

export function traceFigure(data: TraceData, title = 'Anatomy of a container launch'): string {
  const steps = new Set(data.spans.filter((s) => s.step !== undefined).map((s) => s.step)).size;
  return timeline({
    title: `${title}: ${steps} of the plan's ${data.planSteps} steps reported`,
    unit: 'ms',
    lanes: traceLanes(data),
    colors: KIND_COLORS,
    width: 1100,
  });
}
