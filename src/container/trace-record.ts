// The launch trace as data: each step's span of time, on the runtime's side,
// in the executor, or in the init. `--trace` prints lines as they come; this
// keeps them for `--trace=FILE.svg|FILE.json` and the anatomy lab.
import { PlanOp } from '../linux/plan-steps.js';

export type TraceSide = 'runtime' | 'executor' | 'init';

export interface TraceSpan {
  side: TraceSide;
  label: string;
  /** namespaces, mounts, cgroups, credentials, seccomp, exec, sync, other */
  kind: string;
  /** milliseconds on performance.now()'s clock */
  start: number;
  end: number;
  /** the plan step's index (executor and init spans) */
  step?: number;
  /** the pid the step ran as, in the container's pid namespace */
  pid?: number;
  result: string;
}

export interface TraceData {
  /** how many steps the plan had (the last one, the exec, reports nothing: it replaces the init) */
  planSteps: number;
  spans: TraceSpan[];
}

const KIND: Partial<Record<PlanOp, string>> = {};
const kinds: [string, PlanOp[]][] = [
  ['namespaces', [PlanOp.setns, PlanOp.unshare, PlanOp.sethostname, PlanOp.setdomainname, PlanOp.loopbackUp]],
  [
    'mounts',
    [
      PlanOp.mount,
      PlanOp.mkdir,
      PlanOp.mkfile,
      PlanOp.mknod,
      PlanOp.symlink,
      PlanOp.setRoot,
      PlanOp.pivotRoot,
      PlanOp.chroot,
      PlanOp.mask,
      PlanOp.remountRo,
      PlanOp.tmpfsCopyup,
      PlanOp.chdir,
    ],
  ],
  ['credentials', [PlanOp.setuser, PlanOp.capBounding, PlanOp.capset, PlanOp.capAmbient, PlanOp.rlimit, PlanOp.joinKeyring, PlanOp.prctl]],
  ['seccomp', [PlanOp.seccomp]],
  ['exec', [PlanOp.findExec, PlanOp.fds, PlanOp.exec, PlanOp.fifoWait]],
  ['sync', [PlanOp.sync, PlanOp.hook]],
];
for (const [kind, ops] of kinds) for (const op of ops) KIND[op] = kind;

/** The group a plan step's op belongs to in the trace's picture. */
export function kindOfOp(op: PlanOp | undefined): string {
  return (op !== undefined && KIND[op]) || 'other';
}

export class TraceRecorder {
  readonly spans: TraceSpan[] = [];
  planSteps = 0;

  add(span: TraceSpan): void {
    this.spans.push(span);
  }

  /** Runs `fn` and records its span on the runtime's side. */
  async time<T>(label: string, kind: string, fn: () => T | Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.add({ side: 'runtime', label, kind, start, end: performance.now(), result: 'ok' });
    }
  }

  data(): TraceData {
    return { planSteps: this.planSteps, spans: [...this.spans].sort((a, b) => a.start - b.start) };
  }
}
