// The launch-plan wire format: what encodePlan writes must be what
// native/plan.h (and so the executor) reads. The header file is parsed here
// so a change on either side without the other fails this test.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, lacks } from '../helpers.js';
import {
  CLONE_STEP,
  PLAN_TRACE,
  RECORD_SIZE,
  RecordKind,
  decodePlan,
  decodeRecord,
  encodePlan,
  formatPlan,
  planLayout,
  type Plan,
} from '../../src/linux/plan.js';
import {
  layoutOf,
  OP_NAMES,
  PlanOp,
  STEP_FIELDS,
  Step,
  StepFlag,
  type OperandValue,
  type PlanStep,
  type SlotType,
} from '../../src/linux/plan-steps.js';

const HEADER = fs.readFileSync(path.join(REPO, 'native', 'plan.h'), 'utf8');
const NONE = 0xffffffff;

/** Strips C comments so the regexes below see only code. */
const code = HEADER.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '');

function defines(prefix: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of code.matchAll(new RegExp(`#define\\s+(${prefix}\\w*)\\s+(0x[0-9a-fA-F]+|\\d+)u?\\b`, 'g'))) out.set(m[1], Number(m[2]));
  return out;
}

function cEnum(name: string): Map<string, number> {
  const body = new RegExp(`enum\\s+${name}\\s*\\{([^}]*)\\}`).exec(code)?.[1];
  if (!body) throw new Error(`enum ${name} not found in native/plan.h`);
  const out = new Map<string, number>();
  for (const m of body.matchAll(/(\w+)\s*=\s*(\d+)/g)) out.set(m[1], Number(m[2]));
  return out;
}

const C_TYPES: Record<string, number> = { uint32_t: 4, int32_t: 4, uint64_t: 8, int64_t: 8 };

/** sizeof(struct name) for the packed-by-construction structs of plan.h. */
function structSize(name: string): number {
  const body = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(code)?.[1];
  if (!body) throw new Error(`struct ${name} not found in native/plan.h`);
  const strings = defines('PLAN_STRINGS').get('PLAN_STRINGS')!;
  let size = 0;
  let align = 1;
  for (const m of body.matchAll(/(\w+)\s+(\w+)(?:\[(\w+)\])?\s*;/g)) {
    const t = C_TYPES[m[1]];
    if (!t) throw new Error(`unknown type ${m[1]} in struct ${name}`);
    const count = m[3] === undefined ? 1 : m[3] === 'PLAN_STRINGS' ? strings : Number(m[3]);
    size = Math.ceil(size / t) * t + t * count;
    align = Math.max(align, t);
  }
  return Math.ceil(size / align) * align;
}

const snake = (camel: string) => camel.replace(/([A-Z])/g, '_$1').toUpperCase();
const tsEnum = (e: object) => Object.entries(e).filter(([, v]) => typeof v === 'number') as [string, number][];

function addon(): { headerSize: number; stepSize: number; recordSize: number } | undefined {
  const file = path.join(REPO, 'build', 'Release', 'tcr_native.node');
  if (!fs.existsSync(file)) return undefined;
  return createRequire(import.meta.url)(file);
}

describe('plan.h and plan.ts agree', () => {
  it('PlanOp has every op of enum plan_op with the same number', () => {
    const c = cEnum('plan_op');
    const max = c.get('OP_MAX');
    c.delete('OP_MAX');
    const ts = new Map(tsEnum(PlanOp).map(([k, v]) => [`OP_${snake(k)}`, v]));
    expect(ts).toEqual(c);
    expect(max).toBe(Math.max(...ts.values()) + 1);
  });

  it('StepFlag matches the STEP_* flags', () => {
    const c = defines('STEP_');
    const ts = new Map(Object.entries(StepFlag).map(([k, v]) => [`STEP_${snake(k)}`, v]));
    expect(ts).toEqual(c);
  });

  it('RecordKind matches enum record_kind and PLAN_TRACE the header flag', () => {
    const c = cEnum('record_kind');
    const ts = new Map(tsEnum(RecordKind).map(([k, v]) => [`REC_${snake(k)}`, v]));
    expect(ts).toEqual(c);
    expect(defines('PLAN_TRACE').get('PLAN_TRACE')).toBe(PLAN_TRACE);
  });

  it("CLONE_STEP, a failure record's step for stage 1's clone, is the same number on both sides", () => {
    expect(defines('CLONE_STEP').get('CLONE_STEP')).toBe(CLONE_STEP);
  });

  it('magic, version and the string count are the ones encodePlan uses', () => {
    const d = defines('PLAN_');
    expect(d.get('PLAN_MAGIC')).toBe(0x50524354);
    expect(d.get('PLAN_VERSION')).toBe(1);
    expect(d.get('PLAN_STRINGS')).toBe(6);
  });

  it('struct sizes computed from plan.h match the TypeScript layout', () => {
    expect(structSize('plan_header')).toBe(40);
    expect(structSize('plan_step')).toBe(88);
    expect(structSize('plan_record')).toBe(32);
    expect(planLayout).toEqual({ HEADER_SIZE: 40, STEP_SIZE: 88, RECORD_SIZE: 32 });
    expect(RECORD_SIZE).toBe(32);
  });

  const built = addon();
  it.skipIf(lacks(built))('the built addon reports the same struct sizes', () => {
    expect(built!.headerSize).toBe(planLayout.HEADER_SIZE);
    expect(built!.stepSize).toBe(planLayout.STEP_SIZE);
    expect(built!.recordSize).toBe(planLayout.RECORD_SIZE);
  });
});

/** Each op's comment in enum plan_op, which names the slots the executor reads. */
function opComments(): Map<string, string> {
  const body = /enum\s+plan_op\s*\{([^}]*)\}/.exec(HEADER)![1];
  return new Map([...body.matchAll(/(OP_\w+)\s*=\s*\d+,?((?:\s*\/\*[\s\S]*?\*\/)*)/g)].map((m) => [m[1], m[2]]));
}
const slotsIn = (comment: string) => new Set([...comment.matchAll(/\b([ns][0-5])\b/g)].map((m) => m[1]));
const EXECUTOR = ['executor.c', 'executor-fs.c', 'executor-process.c']
  .map((f) => fs.readFileSync(path.join(REPO, 'native', f), 'utf8'))
  .join('\n');

/** A value of each kind, distinct for each operand, so a swapped slot shows. */
function sample(type: SlotType, name: string, i: number): OperandValue {
  switch (type) {
    case 'bool':
      return true;
    case 'str':
      return `${name}-${i}`;
    case 'list':
      return [name, String(i), ''];
    case 'bytes':
      return Buffer.from(`${name}:${i}`);
    case 'u32':
      return [i, 0x10000 + i];
    default:
      return 1000 + i;
  }
}

describe('STEP_FIELDS, plan.h and the executor agree (the checklist at STEP_FIELDS)', () => {
  const comments = opComments();

  it.each(OP_NAMES)('%s reads the slots that plan.h names for it', (name) => {
    const layout = layoutOf(PlanOp[name]);
    const slots = [...layout.nums, ...layout.strings].map((o) => `${o.slot}${o.at}`);
    expect(new Set(slots).size, 'two operands in one slot').toBe(slots.length);
    expect(new Set(slots)).toEqual(slotsIn(comments.get(`OP_${snake(name)}`) ?? ''));
  });

  it('gives each op-specific STEP_* flag to the ops its plan.h comment names', () => {
    const flagComments = new Map([...HEADER.matchAll(/#define\s+STEP_(\w+)\s+\w+\s*\/\*([^*]*)\*\//g)].map((m) => [m[1], m[2]]));
    for (const [flag, bit] of Object.entries(StepFlag)) {
      const users = OP_NAMES.filter((n) => layoutOf(PlanOp[n]).flags.some((o) => o.at === bit)).map((n) => `OP_${snake(n)}`);
      const named = [...(flagComments.get(snake(flag)) ?? '').matchAll(/\bOP_\w+/g)].map((m) => m[0]);
      expect(users, flag).toEqual([...new Set(named)]);
    }
  });

  it('has a case in the executor for every op and for no other', () => {
    const cases = new Set([...EXECUTOR.matchAll(/case\s+(OP_\w+)\s*:/g)].map((m) => m[1]));
    expect(cases).toEqual(new Set(OP_NAMES.map((n) => `OP_${snake(n)}`)));
  });

  it('names no operand as a field every step has', () => {
    for (const fields of Object.values(STEP_FIELDS))
      for (const name of Object.keys(fields)) expect(['op', 'flags', 'label', 'failure', 'afterFilter']).not.toContain(name);
  });

  it.each(OP_NAMES)('%s: each operand is encoded in its slot and decoded back', (name) => {
    const op = PlanOp[name];
    const layout = layoutOf(op);
    const step = { op, label: '', ...Object.fromEntries(layout.all.map((o, i) => [o.name, sample(o.type, o.name, i)])) } as PlanStep;
    const buf = encodePlan({ steps: [step], stage1Steps: 0, cloneFlags: 0, keepFds: 3 });
    const H = 40,
      arena = H + 88;
    layout.all.forEach((o, i) => {
      const v = sample(o.type, o.name, i);
      if (o.slot === 'flag') return expect(buf.readUInt32LE(H + 4) & o.at, o.name).toBe(o.at);
      if (o.slot === 'n') return expect(buf.readBigInt64LE(H + 8 + o.at * 8), o.name).toBe(BigInt(v as number | boolean));
      const at = buf.readUInt32LE(H + 40 + o.at * 4),
        len = buf.readUInt32LE(H + 64 + o.at * 4);
      const bytes = buf.subarray(arena + at, arena + at + len);
      const want =
        o.type === 'list'
          ? Buffer.from((v as string[]).map((x) => `${x}\0`).join(''))
          : o.type === 'u32'
            ? Buffer.from(new Uint32Array(v as number[]).buffer)
            : Buffer.from(v as string | Buffer);
      expect(bytes.equals(want), o.name).toBe(true);
    });
    expect(decodePlan(buf).steps).toEqual([step]);
  });
});

describe('encodePlan', () => {
  const plan: Plan = {
    stage1Steps: 1,
    cloneFlags: 0x20000000 | 0x00020000,
    keepFds: 5,
    steps: [
      Step.setns({ path: '/proc/1/ns/net', nstype: 0x40000000, label: 'setns' }),
      Step.mount({
        target: '/dev',
        fstype: 'tmpfs',
        data: 'mode=755',
        mountFlags: 6,
        inRoot: true,
        flags: StepFlag.ignoreEnoent,
        label: 'mount',
      }),
      Step.exec({ candidates: ['/bin/sh', '/usr/bin/sh'], argv: ['sh', '-c', 'echo hi'], env: [], label: 'exec' }),
      Step.mknod({ path: '/dev/null', mode: 0o20666, major: 1, minor: 3, owner: (1000n << 32n) | 1001n, label: 'mknod' }),
      Step.rlimit({ resource: 7, soft: 0xffffffffffffffffn, hard: -1, label: 'rlimit' }),
      Step.setuser({ uid: 0, gid: 0, groups: [1, 2], label: 'setuser' }),
      Step.setsid({ label: 'setsid' }),
      Step.seccomp({ filter: Buffer.from([6, 0, 0, 0, 0, 0, 0xff, 0x7f]), filterFlags: 0, label: 'seccomp' }),
    ],
  };
  const buf = encodePlan(plan, PLAN_TRACE);
  const H = 40,
    S = 88;
  const arenaStart = H + plan.steps.length * S;
  const arenaLen = buf.readUInt32LE(32);
  const step = (i: number) => ({
    op: buf.readUInt32LE(H + i * S),
    flags: buf.readUInt32LE(H + i * S + 4),
    n: [0, 1, 2, 3].map((k) => buf.readBigInt64LE(H + i * S + 8 + k * 8)),
    off: [0, 1, 2, 3, 4, 5].map((k) => buf.readUInt32LE(H + i * S + 40 + k * 4)),
    len: [0, 1, 2, 3, 4, 5].map((k) => buf.readUInt32LE(H + i * S + 64 + k * 4)),
  });
  const bytes = (i: number, k: number) => {
    const s = step(i);
    return buf.subarray(arenaStart + s.off[k], arenaStart + s.off[k] + s.len[k]);
  };

  it('writes the header', () => {
    expect(buf.readUInt32LE(0)).toBe(0x50524354);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('TCRP');
    expect(buf.readUInt32LE(4)).toBe(1);
    expect(buf.readUInt32LE(8)).toBe(PLAN_TRACE);
    expect(buf.readUInt32LE(12)).toBe(plan.steps.length);
    expect(buf.readUInt32LE(16)).toBe(1);
    expect(buf.readUInt32LE(20)).toBe(5);
    expect(buf.readBigUInt64LE(24)).toBe(0x20020000n);
    expect(buf.readUInt32LE(36)).toBe(0x7e7f1402); // late_exit: ENOENT 2, ENOTDIR 20 -> 127, else 126
    expect(buf.length).toBe(arenaStart + arenaLen);
  });

  it('flags default to 0 and the header flag to 0', () => {
    expect(encodePlan(plan).readUInt32LE(8)).toBe(0);
    expect(step(0).flags).toBe(0);
  });

  it('writes op, flags and the four n values as 64-bit integers', () => {
    expect(step(1).op).toBe(PlanOp.mount);
    expect(step(1).flags).toBe(StepFlag.targetInRoot | StepFlag.ignoreEnoent);
    expect(step(1).n).toEqual([6n, 0n, 0n, 0n]);
    expect(step(3).n).toEqual([0o20666n, 1n, 3n, (1000n << 32n) | 1001n]);
    // RLIM_INFINITY as a bigint and -1 both become all-ones
    expect(step(4).n.slice(0, 3)).toEqual([7n, -1n, -1n]);
    expect(buf.readBigUInt64LE(H + 4 * S + 16)).toBe(0xffffffffffffffffn);
    expect(step(6).n).toEqual([0n, 0n, 0n, 0n]);
  });

  it('marks absent strings with offset UINT32_MAX and length 0', () => {
    expect(step(1).off[0]).toBe(NONE);
    expect(step(1).len[0]).toBe(0);
    expect(step(0).off.slice(1)).toEqual([NONE, NONE, NONE, NONE, NONE]);
    expect(step(6).off).toEqual([NONE, NONE, NONE, NONE, NONE, NONE]);
  });

  it('stores strings in the arena, NUL-terminated, length without the NUL', () => {
    expect(bytes(0, 0).toString()).toBe('/proc/1/ns/net');
    expect(bytes(1, 1).toString()).toBe('/dev');
    expect(bytes(1, 2).toString()).toBe('tmpfs');
    expect(bytes(1, 3).toString()).toBe('mode=755');
    for (let i = 0; i < plan.steps.length; i++) {
      const s = step(i);
      for (let k = 0; k < 6; k++) {
        if (s.off[k] === NONE) continue;
        // the executor refuses off + len >= arena_len: there must always be a NUL after
        expect(s.off[k] + s.len[k]).toBeLessThan(arenaLen);
        expect(buf[arenaStart + s.off[k] + s.len[k]]).toBe(0);
      }
    }
  });

  it('stores lists as NUL-separated strings, each one NUL-terminated', () => {
    expect(bytes(2, 0).toString()).toBe('/bin/sh\0/usr/bin/sh\0');
    expect(bytes(2, 1).toString()).toBe('sh\0-c\0echo hi\0');
    expect(step(2).len[2]).toBe(0); // an empty list is present but empty
    expect(step(2).off[2]).not.toBe(NONE);
  });

  it('stores u32 lists as little-endian words and buffers as raw bytes', () => {
    expect([...bytes(5, 0)]).toEqual([1, 0, 0, 0, 2, 0, 0, 0]);
    expect([...bytes(7, 0)]).toEqual([6, 0, 0, 0, 0, 0, 0xff, 0x7f]);
  });

  it('decodes to the steps it encoded, but for their labels', () => {
    const back = decodePlan(buf);
    expect(back).toMatchObject({ flags: PLAN_TRACE, stage1Steps: 1, keepFds: 5, cloneFlags: 0x20020000 });
    expect(back.steps[1]).toEqual({ ...plan.steps[1], label: '' });
    // RLIM_INFINITY and -1 are the same 64 bits
    expect(back.steps[4]).toMatchObject({ soft: -1, hard: -1 });
    expect(back.steps.map((s) => s.op)).toEqual(plan.steps.map((s) => s.op));
  });

  it('handles multi-byte UTF-8 by byte length', () => {
    const b = encodePlan({ steps: [Step.sethostname({ hostname: 'hé☃', label: 'x' })], stage1Steps: 0, cloneFlags: 0, keepFds: 3 });
    expect(b.readUInt32LE(H + 64)).toBe(Buffer.byteLength('hé☃'));
    expect(b.subarray(H + S, H + S + b.readUInt32LE(H + 64)).toString()).toBe('hé☃');
  });

  it('encodes an empty plan with a one-byte arena', () => {
    const b = encodePlan({ steps: [], stage1Steps: 0, cloneFlags: 0, keepFds: 3 });
    expect(b.length).toBe(H + 1);
    expect(b.readUInt32LE(12)).toBe(0);
    expect(b.readUInt32LE(32)).toBe(1);
  });
});

describe('decodeRecord and formatPlan', () => {
  it('decodes a plan_record', () => {
    const b = Buffer.alloc(32);
    b.writeUInt32LE(3, 0);
    b.writeUInt32LE(7, 4);
    b.writeInt32LE(1, 8);
    b.writeUInt32LE(42, 12);
    b.writeBigInt64LE(12345n, 16);
    b.writeBigInt64LE(-1n, 24);
    expect(decodeRecord(b)).toEqual({ kind: RecordKind.fail, step: 7, errno: 1, pid: 42, nanos: 12345n, aux: -1n });
  });

  it('numbers the steps, marks stage 1 and names each operand under its label', () => {
    const text = formatPlan({
      steps: [
        Step.setns({ path: '/proc/1/ns/net', nstype: 0x40000000, label: 'a' }),
        Step.mount({ target: '/x', mountFlags: 0x1000, inRoot: true, flags: StepFlag.ignoreEnoent | StepFlag.ignoreEexist, label: 'b' }),
        Step.setuser({ uid: 1, gid: 2, groups: [3], label: 'c' }),
        Step.seccomp({ filter: Buffer.alloc(16), filterFlags: 0, label: 'd' }),
        Step.mkdir({ path: '/d', mode: 0o755, label: 'e' }),
        Step.exec({ candidates: ['/bin/sh'], argv: ['sh', '-c', 'echo "hi"'], env: [], label: 'f' }),
      ],
      stage1Steps: 1,
      cloneFlags: 0,
      keepFds: 3,
    });
    expect(text).toBe(
      [
        '  0  [stage1] a',
        '       setns path="/proc/1/ns/net" nstype=0x40000000',
        '  1  b',
        '       mount target="/x" mountFlags=0x1000 inRoot=true flags=ignoreEnoent|ignoreEexist',
        '  2  c',
        '       setuser uid=1 gid=2 groups=[3]',
        '  3  d',
        '       seccomp filter=<16 bytes> filterFlags=0x0',
        '  4  e',
        '       mkdir path="/d" mode=0o755',
        '  5  f',
        '       exec candidates=["/bin/sh"] argv=["sh","-c","echo \\"hi\\""] env=[]',
        '',
      ].join('\n'),
    );
  });
});

describe('the init side of the sync protocol', () => {
  it("SYNC_ANSWER_MAX is native/executor.h's SYNC_PAYLOAD_MAX", async () => {
    const { SYNC_ANSWER_MAX } = await import('../../src/container/launcher.js');
    const header = fs.readFileSync(path.join(REPO, 'native', 'executor.h'), 'utf8');
    expect(Number(/#define SYNC_PAYLOAD_MAX\s+(\d+)/.exec(header)?.[1])).toBe(SYNC_ANSWER_MAX);
  });
});
