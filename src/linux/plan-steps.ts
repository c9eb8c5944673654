// The steps of a launch plan: each operation, its named operands, and where
// struct plan_step (native/plan.h) carries each of them. The step type, the
// constructors, the encoder, the decoder and the dry-run view (plan.ts) all
// read STEP_FIELDS, so the position of an operand is written down once.

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

type NumSlot = `n${0 | 1 | 2 | 3}`;
type StrSlot = `s${0 | 1 | 2 | 3 | 4 | 5}`;
/** the STEP_* bits that mean something to one op only; the others stay in a step's `flags` */
type OpFlag = 'targetInRoot' | 'sourceInRoot' | 'retryLocked';
export type Slot =
  NumSlot | `${NumSlot}:${'hex' | 'oct' | 'bool'}` | `${StrSlot}${'' | ':list' | ':bytes' | ':u32'}${'' | '?'}` | `flag:${OpFlag}`;

/**
 * Each op's operands, by name, and the slot of struct plan_step each one
 * takes: `n0`..`n3` (int64), `s0`..`s5` (strings in the arena), or a
 * `flag:` bit of the step's flags. After the colon, the kind of value:
 *   n: a number or bigint (`:hex`, `:oct`: printed so by the dry run), `:bool` 0 or 1;
 *   s: a string, `:list` NUL-ended strings, `:bytes` a Buffer, `:u32` 32-bit numbers.
 * `?` marks an operand that may be left out (its slot then says "none":
 * offset UINT32_MAX); a `:bool` or `flag:` one left out is false.
 *
 * Adding an op touches, in this order:
 *  1. native/plan.h: its number in enum plan_op (OP_MAX one past it) and a
 *     comment naming each slot it reads (`s0 path, n0 mode`);
 *  2. PlanOp above: the same name in camelCase, the same number;
 *  3. its entry here, with those slots;
 *  4. its case in run_step (native/executor.c);
 *  5. test/unit/plan.test.ts, whose wire check holds 1-4 to each other and
 *     round-trips every entry through the encoder: nothing to write there
 *     unless the op brings a new kind of slot.
 * Step.<name>({ ... }) then builds it, and the dry run prints it.
 */
export const STEP_FIELDS = {
  [PlanOp.prctl]: { option: 'n0', arg2: 'n1', arg3: 'n2' },
  [PlanOp.sync]: { point: 'n0', last: 'n1:bool' },
  [PlanOp.setns]: { path: 's0', nstype: 'n0:hex' },
  [PlanOp.unshare]: { cloneFlags: 'n0:hex' },
  [PlanOp.mount]: {
    source: 's0?',
    target: 's1',
    fstype: 's2?',
    data: 's3?',
    mountFlags: 'n0:hex',
    inRoot: 'flag:targetInRoot',
    sourceInRoot: 'flag:sourceInRoot',
    retryLocked: 'flag:retryLocked',
  },
  [PlanOp.mkdir]: { path: 's0', mode: 'n0:oct' },
  [PlanOp.mkfile]: { path: 's0', mode: 'n0:oct' },
  [PlanOp.mknod]: { path: 's0', mode: 'n0:oct', major: 'n1', minor: 'n2', owner: 'n3:hex' },
  [PlanOp.symlink]: { target: 's0', linkpath: 's1' },
  [PlanOp.setRoot]: { path: 's0' },
  [PlanOp.pivotRoot]: { root: 's0' },
  [PlanOp.chroot]: { root: 's0', moveMount: 'n0:bool' },
  [PlanOp.mask]: { path: 's0' },
  [PlanOp.remountRo]: { path: 's0' },
  [PlanOp.sethostname]: { hostname: 's0' },
  [PlanOp.setdomainname]: { domainname: 's0' },
  [PlanOp.writeFile]: { path: 's0', content: 's1' },
  [PlanOp.loopbackUp]: {},
  [PlanOp.chdir]: { path: 's0' },
  [PlanOp.umask]: { mask: 'n0:oct' },
  [PlanOp.setsid]: {},
  [PlanOp.setuser]: { uid: 'n0', gid: 'n1', groups: 's0:u32?' },
  [PlanOp.capBounding]: { keep: 'n0:hex', lastCap: 'n1' },
  [PlanOp.capset]: { effective: 'n0:hex', permitted: 'n1:hex', inheritable: 'n2:hex' },
  [PlanOp.capAmbient]: { ambient: 'n0:hex' },
  [PlanOp.rlimit]: { resource: 'n0', soft: 'n1', hard: 'n2' },
  [PlanOp.seccomp]: { filter: 's0:bytes', filterFlags: 'n0:hex' },
  [PlanOp.fifoWait]: { slot: 'n0', untilStartExits: 'n1:bool' },
  [PlanOp.hook]: { path: 's0', argv: 's1:list', env: 's2:list', timeoutMs: 'n0' },
  [PlanOp.findExec]: { candidates: 's0:list' },
  [PlanOp.fds]: { keep: 'n0' },
  [PlanOp.exec]: { candidates: 's0:list', argv: 's1:list', env: 's2:list' },
  [PlanOp.joinKeyring]: { name: 's0' },
  [PlanOp.console]: { rows: 'n0', cols: 'n1', path: 's0?' },
  [PlanOp.tmpfsCopyup]: { source: 's0', target: 's1', fstype: 's2', data: 's3?', mountFlags: 'n0:hex', keepMode: 'n1:bool' },
} as const satisfies Record<PlanOp, Record<string, Slot>>;

type Value<T> = T extends `${string}:bool` | `flag:${string}`
  ? boolean
  : T extends `n${string}`
    ? number | bigint
    : T extends `${string}:list${string}`
      ? string[]
      : T extends `${string}:bytes${string}`
        ? Buffer
        : T extends `${string}:u32${string}`
          ? number[]
          : string;
type Optional<T> = T extends `${string}?` | `${string}:bool` | `flag:${string}` ? true : false;
type Operands<M> = { -readonly [K in keyof M as Optional<M[K]> extends true ? never : K]: Value<M[K]> } & {
  -readonly [K in keyof M as Optional<M[K]> extends true ? K : never]?: Value<M[K]>;
};

/** What a step carries besides its operands (none of it but `flags` reaches the executor). */
export interface StepMeta {
  /** ignoreEnoent, ignoreEexist, ignoreErrors; an op's own STEP_* bits are named operands */
  flags?: number;
  /** what a person reads in the trace and the dry run */
  label: string;
  /** what the error says first when this step fails, before the step itself */
  failure?: string;
  /** runs under the container's seccomp filter: a denial there is the profile's */
  afterFilter?: boolean;
}

type Flat<T> = { [K in keyof T]: T[K] } & {};
export type PlanStep = { [O in PlanOp]: Flat<{ op: O } & Operands<(typeof STEP_FIELDS)[O]> & StepMeta> }[PlanOp];
export type StepOf<O extends PlanOp> = Extract<PlanStep, { op: O }>;
export type OpName = keyof typeof PlanOp;

export const OP_NAMES = Object.keys(PlanOp).filter((k) => Number.isNaN(Number(k))) as OpName[];

/** Step.mount({ target, ... }): a step of each op, its operands checked against STEP_FIELDS by the compiler. */
export const Step = Object.fromEntries(OP_NAMES.map((name) => [name, (f: object) => ({ op: PlanOp[name], ...f })])) as {
  [K in OpName]: (operands: Omit<StepOf<(typeof PlanOp)[K]>, 'op'>) => StepOf<(typeof PlanOp)[K]>;
};

export type SlotType = 'num' | 'hex' | 'oct' | 'bool' | 'str' | 'list' | 'bytes' | 'u32';

/** One operand of STEP_FIELDS, parsed: `at` is the slot's index, or its STEP_* bit for a flag. */
export interface Operand {
  name: string;
  slot: 'n' | 's' | 'flag';
  at: number;
  type: SlotType;
}

/** An op's operands in the order of STEP_FIELDS, and those of each slot in the order of the wire. */
export interface OpLayout {
  all: Operand[];
  nums: Operand[];
  strings: Operand[];
  flags: Operand[];
}

function parseSlot(name: string, slot: Slot): Operand {
  const [where, kind] = slot.replace('?', '').split(':');
  if (where === 'flag') return { name, slot: 'flag', at: StepFlag[kind as OpFlag], type: 'bool' };
  const type = (kind ?? (where[0] === 'n' ? 'num' : 'str')) as SlotType;
  return { name, slot: where[0] as 'n' | 's', at: Number(where.slice(1)), type };
}

// made on first use: most commands (state, kill, delete, list) load this module and never encode a plan
let layouts: Map<PlanOp, OpLayout> | undefined;

function allLayouts(): Map<PlanOp, OpLayout> {
  return (layouts ??= new Map(
    OP_NAMES.map((name) => {
      const op = PlanOp[name];
      const all = Object.entries(STEP_FIELDS[op] as Record<string, Slot>).map(([field, slot]) => parseSlot(field, slot));
      const bySlot = (s: Operand['slot']) => all.filter((o) => o.slot === s).sort((a, b) => a.at - b.at);
      return [op, { all, nums: bySlot('n'), strings: bySlot('s'), flags: bySlot('flag') }];
    }),
  ));
}

export function layoutOf(op: PlanOp): OpLayout {
  const layout = allLayouts().get(op);
  if (!layout) throw new Error(`plan: no operation ${op}`);
  return layout;
}

export type OperandValue = number | bigint | boolean | string | string[] | number[] | Buffer;

/** A step's value for one of its op's operands; undefined where the step leaves it out. */
export function operandValue(step: PlanStep, o: Operand): OperandValue | undefined {
  return (step as unknown as Record<string, OperandValue | undefined>)[o.name] ?? undefined;
}

/** The operands a step has, in the order of STEP_FIELDS; the ones left out are not listed. */
export function operands(step: PlanStep): [Operand, OperandValue][] {
  return layoutOf(step.op).all.flatMap((o): [Operand, OperandValue][] => {
    const v = operandValue(step, o);
    return v === undefined ? [] : [[o, v]];
  });
}
