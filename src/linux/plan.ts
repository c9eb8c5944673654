// The launch plan: a flat list of steps the native executor carries out in
// the container's init, in order. Every decision is taken here, in
// TypeScript; the C side only executes. A plan is a value: it can be printed
// (dry run), traced step by step, and unit-tested without root.
import { layoutOf, operands, operandValue, PlanOp, StepFlag, type OperandValue, type PlanStep, type SlotType } from './plan-steps.js';
import { lateExitWord } from './exit-status.js';

/** Why the init pauses and asks the runtime to act (OP_SYNC ids). */
export enum SyncPoint {
  /** the runtime writes id maps, joins the cgroup, records the pid */
  start = 1,
  /** the runtime runs prestart and createRuntime hooks */
  runtimeHooks = 2,
  /** the init is ready; the runtime records the container as created */
  ready = 3,
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
const PLAN_STRINGS = 6;
export const RECORD_SIZE = 32;
/** a failure record's step for stage 1's clone of the init (native/plan.h) */
export const CLONE_STEP = 0xffffffff;

type ArenaValue = string | string[] | number[] | Buffer;

/** Bytes an operand takes in the arena, without its final NUL (a list: each entry NUL-ended, as C splits it). */
function byteLength(v: ArenaValue, type: SlotType): number {
  if (type === 'bytes') return (v as Buffer).length;
  if (type === 'u32') return 4 * (v as number[]).length;
  if (type === 'list') return (v as string[]).reduce((n, x) => n + Buffer.byteLength(x) + 1, 0);
  return Buffer.byteLength(v as string);
}

/** Writes an operand at `at`; returns the bytes written (the buffer is zero-filled, so NULs are already there). */
function writeString(buf: Buffer, at: number, v: ArenaValue, type: SlotType): number {
  if (type === 'bytes') return (v as Buffer).copy(buf, at);
  if (type === 'u32') {
    (v as number[]).forEach((x, i) => buf.writeUInt32LE(x, at + 4 * i));
    return 4 * (v as number[]).length;
  }
  if (type !== 'list') return buf.write(v as string, at);
  let o = at;
  for (const x of v as string[]) o += buf.write(x, o) + 1;
  return o - at;
}

function writeNumber(buf: Buffer, at: number, v: number | bigint | boolean): void {
  const n = typeof v === 'boolean' ? Number(v) : v;
  // small numbers without a BigInt; asIntN keeps the bits of unsigned 64-bit ones (RLIM_INFINITY = 2^64-1)
  if (typeof n === 'number' && Number.isSafeInteger(n)) {
    buf.writeUInt32LE(n >>> 0, at);
    buf.writeInt32LE(Math.floor(n / 2 ** 32), at + 4);
  } else {
    buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(n)), at);
  }
}

/**
 * Serialises a plan into the buffer native/plan.h describes: header, steps,
 * then the arena of NUL-ended strings. Each operand goes where STEP_FIELDS
 * puts it. Strings are measured, then written straight into the one buffer:
 * no per-string allocation on the create path.
 */
export function encodePlan(plan: Plan, flags = 0): Buffer {
  const { steps } = plan;
  // every string ends in NUL so C can use it directly; one more NUL because offsets are checked strictly below the arena's end
  let arenaLen = 1;
  for (const step of steps) {
    for (const o of layoutOf(step.op).strings) {
      const v = operandValue(step, o);
      if (v !== undefined) arenaLen += byteLength(v as ArenaValue, o.type) + 1;
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
  buf.writeUInt32LE(lateExitWord(), 36);
  let used = 0;
  steps.forEach((step, i) => {
    const base = stepsAt + i * STEP_SIZE;
    const layout = layoutOf(step.op);
    let stepFlags = step.flags ?? 0;
    for (const o of layout.flags) if (operandValue(step, o)) stepFlags |= o.at;
    buf.writeUInt32LE(step.op, base);
    buf.writeUInt32LE(stepFlags, base + 4);
    // an n slot left out stays 0, as the buffer is zero-filled
    for (const o of layout.nums) {
      const v = operandValue(step, o);
      if (v !== undefined) writeNumber(buf, base + 8 + o.at * 8, v as number | bigint | boolean);
    }
    for (let k = 0; k < PLAN_STRINGS; k++) buf.writeUInt32LE(NONE, base + 40 + k * 4);
    // in slot order: the arena must not depend on the order STEP_FIELDS lists the operands in
    for (const o of layout.strings) {
      const v = operandValue(step, o);
      if (v === undefined) continue;
      const len = writeString(buf, arenaAt + used, v as ArenaValue, o.type);
      buf.writeUInt32LE(used, base + 40 + o.at * 4);
      buf.writeUInt32LE(len, base + 64 + o.at * 4);
      used += len + 1;
    }
  });
  return buf;
}

function readString(buf: Buffer, at: number, len: number, type: SlotType): OperandValue {
  const bytes = buf.subarray(at, at + len);
  if (type === 'bytes') return Buffer.from(bytes);
  if (type === 'u32') return Array.from({ length: len / 4 }, (_, i) => bytes.readUInt32LE(4 * i));
  if (type === 'list') return len ? bytes.toString().split('\0').slice(0, -1) : [];
  return bytes.toString();
}

/**
 * Reads back what encodePlan wrote, by the same table: what the executor
 * will see, operand by operand. Labels are not on the wire (they come back
 * empty); numbers come back as numbers where they fit one exactly.
 */
export function decodePlan(buf: Buffer): Plan & { flags: number } {
  const count = buf.readUInt32LE(12);
  const arenaAt = HEADER_SIZE + count * STEP_SIZE;
  const steps = Array.from({ length: count }, (_, i): PlanStep => {
    const base = HEADER_SIZE + i * STEP_SIZE;
    const op: PlanOp = buf.readUInt32LE(base);
    const layout = layoutOf(op);
    let flags = buf.readUInt32LE(base + 4);
    const step: Record<string, unknown> = { op, label: '' };
    for (const o of layout.flags) {
      if (flags & o.at) step[o.name] = true;
      flags &= ~o.at;
    }
    if (flags) step.flags = flags;
    for (const o of layout.nums) {
      const n = buf.readBigInt64LE(base + 8 + o.at * 8);
      step[o.name] = o.type === 'bool' ? n !== 0n : Number.isSafeInteger(Number(n)) ? Number(n) : n;
    }
    for (const o of layout.strings) {
      const off = buf.readUInt32LE(base + 40 + o.at * 4);
      if (off !== NONE) step[o.name] = readString(buf, arenaAt + off, buf.readUInt32LE(base + 64 + o.at * 4), o.type);
    }
    return step as unknown as PlanStep;
  });
  return {
    flags: buf.readUInt32LE(8),
    steps,
    stage1Steps: buf.readUInt32LE(16),
    keepFds: buf.readUInt32LE(20),
    cloneFlags: Number(buf.readBigUInt64LE(24)),
  };
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

function show(v: OperandValue, type: SlotType): string {
  if (type === 'bytes') return `<${(v as Buffer).length} bytes>`;
  if (type === 'hex') return `0x${(v as number | bigint).toString(16)}`;
  if (type === 'oct') return `0o${(v as number | bigint).toString(8)}`;
  if (typeof v === 'string' || Array.isArray(v)) return JSON.stringify(v);
  return String(v);
}

/** What the executor is handed for a step: the op and its operands, named. */
function describeStep(step: PlanStep): string {
  const own = layoutOf(step.op).flags.reduce((bits, o) => bits | o.at, 0);
  const flags = Object.entries(StepFlag)
    .filter(([, bit]) => (step.flags ?? 0) & bit & ~own)
    .map(([name]) => name);
  return [
    PlanOp[step.op],
    ...operands(step).map(([o, v]) => `${o.name}=${show(v, o.type)}`),
    ...(flags.length ? [`flags=${flags.join('|')}`] : []),
  ].join(' ');
}

/** The dry-run view of a plan: each step numbered, its label, then under it its operands. */
export function formatPlan(plan: Plan): string {
  return plan.steps
    .map((s, i) => `${String(i).padStart(3)}  ${i < plan.stage1Steps ? '[stage1] ' : ''}${s.label}\n       ${describeStep(s)}\n`)
    .join('');
}
