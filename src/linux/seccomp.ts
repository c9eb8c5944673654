// linux.seccomp → a BPF program, compiled here (in the runtime, with
// libseccomp) so the executor only has to load bytes with seccomp(2).
import { SpecError } from '../errors.js';
import type { Seccomp } from '../spec/types.js';
import { exportBpf, SCMP_FLTATR, seccomp } from '../sys/libseccomp.js';

const EPERM = 1;

const ACTIONS: Record<string, (ret: number) => number> = {
  SCMP_ACT_KILL: () => 0x00000000,
  SCMP_ACT_KILL_THREAD: () => 0x00000000,
  SCMP_ACT_KILL_PROCESS: () => 0x80000000,
  SCMP_ACT_TRAP: () => 0x00030000,
  SCMP_ACT_ERRNO: (ret) => 0x00050000 | (ret & 0xffff),
  SCMP_ACT_TRACE: (ret) => 0x7ff00000 | (ret & 0xffff),
  SCMP_ACT_LOG: () => 0x7ffc0000,
  SCMP_ACT_ALLOW: () => 0x7fff0000,
};

const COMPARE: Record<string, number> = {
  SCMP_CMP_NE: 1,
  SCMP_CMP_LT: 2,
  SCMP_CMP_LE: 3,
  SCMP_CMP_EQ: 4,
  SCMP_CMP_GE: 5,
  SCMP_CMP_GT: 6,
  SCMP_CMP_MASKED_EQ: 7,
};

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
};

const SCMP_ERROR = 0xffffffff; // seccomp_arch_resolve_name's "unknown"

function action(name: string, ret: number | undefined, field: string): number {
  if (name === 'SCMP_ACT_NOTIFY') throw new SpecError(field, 'SCMP_ACT_NOTIFY needs a seccomp listener, which tcr does not support');
  const make = ACTIONS[name];
  if (!make) throw new SpecError(field, `unknown seccomp action ${JSON.stringify(name)}`);
  return make(ret ?? EPERM);
}

export interface CompiledSeccomp {
  filter: Buffer;
  flags: number;
  description: string;
}

export function compileSeccomp(profile: Seccomp): CompiledSeccomp {
  const def = action(profile.defaultAction, profile.defaultErrnoRet, 'linux.seccomp.defaultAction');
  let flags = 0;
  for (const [i, f] of (profile.flags ?? []).entries()) {
    if (!(f in FLAGS)) throw new SpecError(`linux.seccomp.flags[${i}]`, `unknown flag ${JSON.stringify(f)}`);
    flags |= FLAGS[f];
  }
  const ctx: unknown = seccomp.init(def);
  if (!ctx) throw new SpecError('linux.seccomp.defaultAction', 'libseccomp refused the default action');
  let rules = 0;
  try {
    seccomp.attrSet(ctx, SCMP_FLTATR.CTL_NNP, 0); // no_new_privs is the plan's decision
    for (const [i, a] of (profile.architectures ?? []).entries()) {
      const token = seccomp.archResolveName(a.toLowerCase().replace(/^scmp_arch_/, '')) as number;
      if (token === SCMP_ERROR || token === 0)
        throw new SpecError(`linux.seccomp.architectures[${i}]`, `unknown architecture ${JSON.stringify(a)}`);
      const r = seccomp.archAdd(ctx, token) as number;
      if (r < 0 && r !== -17) throw new SpecError(`linux.seccomp.architectures[${i}]`, `libseccomp refused ${a} (errno ${-r})`);
    }
    for (const [i, call] of (profile.syscalls ?? []).entries()) {
      const field = `linux.seccomp.syscalls[${i}]`;
      const act = action(call.action, call.errnoRet, `${field}.action`);
      if (act === def) continue; // libseccomp refuses rules that repeat the default
      const args = (call.args ?? []).map((a, k) => {
        if (!(a.op in COMPARE)) throw new SpecError(`${field}.args[${k}].op`, `unknown operator ${JSON.stringify(a.op)}`);
        if (!(a.index >= 0 && a.index <= 5)) throw new SpecError(`${field}.args[${k}].index`, 'must be 0 to 5');
        return { arg: a.index, op: COMPARE[a.op], datum_a: BigInt(a.value), datum_b: BigInt(a.valueTwo ?? 0) };
      });
      // conditions on distinct arguments must all hold (one rule); several on the
      // same argument are alternatives (one rule each), as runc reads them
      const sameIndex = new Set(args.map((a) => a.arg)).size !== args.length;
      const groups = args.length === 0 ? [[]] : sameIndex ? args.map((a) => [a]) : [args];
      for (const name of call.names ?? []) {
        const nr = seccomp.syscallResolveName(name) as number;
        // -1 (__NR_SCMP_ERROR) is a name libseccomp does not know: skipped, as
        // runc does. Other negative numbers are libseccomp's pseudo-syscalls
        // (__PNR_*): names the native ABI lacks but an added one has, such as
        // socketcall or _llseek for SCMP_ARCH_X86. runc passes them on and
        // libseccomp maps them per architecture; skipping them too breaks
        // podman's default profile, whose conditional `socket` rules conflict
        // (EEXIST) on x86's multiplexed socketcall unless the unconditional
        // `socketcall` ALLOW came first and made them redundant.
        if (nr === -1) continue;
        for (const g of groups) {
          const r = seccomp.ruleAddArray(ctx, act, nr, g.length, g.length ? g : null) as number;
          if (r < 0) throw new SpecError(`${field}`, `libseccomp refused the rule for ${name} (errno ${-r})`);
          rules++;
        }
      }
    }
    const filter = exportBpf(ctx);
    return { filter, flags, description: `default ${profile.defaultAction}, ${rules} rules, ${filter.length / 8} BPF instructions` };
  } finally {
    seccomp.release(ctx);
  }
}
