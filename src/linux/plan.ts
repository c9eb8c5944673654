// The launch plan: a flat list of steps the native executor carries out in
// the container's init, in order. Every decision is taken here, in
// TypeScript; the C side only executes. A plan is a value: it can be printed
// (dry run), traced step by step, and unit-tested without root.

/** Mirrors enum plan_op in native/plan.h. The numbers are the wire format: 28, an op since removed, is not reused. */
export enum PlanOp {
  prctl = 1,
  sync = 2,
  setns = 3,
  unshare = 4,
  mount = 5,
  mkdir = 6,
  mkfile = 7,
  mknod = 8,
  symlink = 9,
  setRoot = 10,
  pivotRoot = 11,
  chroot = 12,
  mask = 13,
  remountRo = 14,
  sethostname = 15,
  setdomainname = 16,
  writeFile = 17,
  loopbackUp = 18,
  chdir = 19,
  umask = 20,
  setsid = 21,
  setuser = 22,
  capBounding = 23,
  capset = 24,
  capAmbient = 25,
  rlimit = 26,
  seccomp = 27,
  fifoWait = 29,
  hook = 30,
  findExec = 31,
  fds = 32,
  exec = 33,
  joinKeyring = 34,
  console = 35,
  tmpfsCopyup = 36,
}

/** Mirrors the STEP_* flags in native/plan.h. */
export const StepFlag = {
  ignoreEnoent: 1,
  ignoreEexist: 2,
  ignoreErrors: 4,
  targetInRoot: 8,
  retryLocked: 16,
  sourceInRoot: 32,
} as const;

/** Why the init pauses and asks the runtime to act (OP_SYNC ids). */
export enum SyncPoint {
  /** the runtime writes id maps, joins the cgroup, records the pid */
  start = 1,
  /** the runtime runs prestart and createRuntime hooks */
  runtimeHooks = 2,
  /** the init is ready; the runtime records the container as created */
  ready = 3,
}

export type PlanString = string | Buffer | string[] | null;

export interface PlanStep {
  op: PlanOp;
  flags?: number;
  n?: [number | bigint, number | bigint, number | bigint, number | bigint] | (number | bigint)[];
  s?: PlanString[];
  /** what a person reads in the trace and the dry run */
  label: string;
  /** what the error says first when this step fails, before the step itself */
  failure?: string;
  /** runs under the container's seccomp filter: a denial there is the profile's */
  afterFilter?: boolean;
}

export interface Plan {
  steps: PlanStep[];
  /** leading steps that stage 1 (the executor, before it clones the init) runs: setns into namespaces to join */
  stage1Steps: number;
  /** namespaces the clone of the init creates */
  cloneFlags: number;
  /** fds 0..keepFds-1 reach the container */
  keepFds: number;
}

const PLAN_MAGIC = 0x50524354;
const PLAN_VERSION = 1;
export const PLAN_TRACE = 1;
const HEADER_SIZE = 40;
const STEP_SIZE = 88;
const NONE = 0xffffffff;
export const RECORD_SIZE = 32;

/** Bytes a plan string takes in the arena, without its final NUL (a list: each entry NUL-ended, as C splits it). */
function byteLength(v: Exclude<PlanString, null>): number {
  if (Buffer.isBuffer(v)) return v.length;
  if (Array.isArray(v)) return v.reduce((n, x) => n + Buffer.byteLength(x) + 1, 0);
  return Buffer.byteLength(v);
}

/** Writes a plan string at `at`; returns the bytes written (the buffer is zero-filled, so NULs are already there). */
function writeString(buf: Buffer, at: number, v: Exclude<PlanString, null>): number {
  if (Buffer.isBuffer(v)) return v.copy(buf, at);
  if (!Array.isArray(v)) return buf.write(v, at);
  let o = at;
  for (const x of v) o += buf.write(x, o) + 1;
  return o - at;
}

/**
 * Serialises a plan into the buffer native/plan.h describes: header, steps,
 * then the arena of NUL-ended strings. Strings are measured, then written
 * straight into the one buffer: no per-string allocation on the create path.
 */
export function encodePlan(plan: Plan, flags = 0): Buffer {
  const { steps } = plan;
  // every string ends in NUL so C can use it directly; one more NUL because offsets are checked strictly below the arena's end
  let arenaLen = 1;
  for (const step of steps) {
    for (let k = 0; k < 6; k++) {
      const v = step.s?.[k];
      if (v !== undefined && v !== null) arenaLen += byteLength(v) + 1;
    }
  }
  const stepsAt = HEADER_SIZE;
  const arenaAt = stepsAt + steps.length * STEP_SIZE;
  const buf = Buffer.alloc(arenaAt + arenaLen);
  buf.writeUInt32LE(PLAN_MAGIC, 0);
  buf.writeUInt32LE(PLAN_VERSION, 4);
  buf.writeUInt32LE(flags, 8);
  buf.writeUInt32LE(steps.length, 12);
  buf.writeUInt32LE(plan.stage1Steps, 16);
  buf.writeUInt32LE(plan.keepFds, 20);
  buf.writeBigUInt64LE(BigInt(plan.cloneFlags), 24);
  buf.writeUInt32LE(arenaLen, 32);
  let used = 0;
  steps.forEach((step, i) => {
    const base = stepsAt + i * STEP_SIZE;
    buf.writeUInt32LE(step.op, base);
    buf.writeUInt32LE(step.flags ?? 0, base + 4);
    for (let k = 0; k < 4; k++) {
      const n = step.n?.[k] ?? 0;
      // small numbers without a BigInt; asIntN keeps the bits of unsigned 64-bit ones (RLIM_INFINITY = 2^64-1)
      if (typeof n === 'number' && Number.isSafeInteger(n)) {
        buf.writeUInt32LE(n >>> 0, base + 8 + k * 8);
        buf.writeInt32LE(Math.floor(n / 2 ** 32), base + 12 + k * 8);
      } else {
        buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(n)), base + 8 + k * 8);
      }
    }
    for (let k = 0; k < 6; k++) {
      const v = step.s?.[k];
      if (v === undefined || v === null) {
        buf.writeUInt32LE(NONE, base + 40 + k * 4);
        continue;
      }
      const len = writeString(buf, arenaAt + used, v);
      buf.writeUInt32LE(used, base + 40 + k * 4);
      buf.writeUInt32LE(len, base + 64 + k * 4);
      used += len + 1;
    }
  });
  return buf;
}

export const planLayout = { HEADER_SIZE, STEP_SIZE, RECORD_SIZE };

export enum RecordKind {
  step = 1,
  sync = 2,
  fail = 3,
  /** carries the pty master (SCM_RIGHTS) */
  console = 4,
}

export interface PlanRecord {
  kind: RecordKind;
  step: number;
  errno: number;
  pid: number;
  nanos: bigint;
  aux: bigint;
}

export function decodeRecord(buf: Buffer): PlanRecord {
  return {
    kind: buf.readUInt32LE(0),
    step: buf.readUInt32LE(4),
    errno: buf.readInt32LE(8),
    pid: buf.readUInt32LE(12),
    nanos: buf.readBigInt64LE(16),
    aux: buf.readBigInt64LE(24),
  };
}

/** The dry-run view of a plan: one numbered line per step. */
export function formatPlan(plan: Plan): string {
  const lines = plan.steps.map((s, i) => `${String(i).padStart(3)}  ${i < plan.stage1Steps ? '[stage1] ' : ''}${s.label}`);
  return lines.join('\n') + '\n';
}
