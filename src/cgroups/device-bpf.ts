// The cgroup v2 device controller is an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE)
// attached to the container's cgroup. This builds its instructions from the
// device rules: the last rule that matches a request decides, as in v1.
import type { DeviceRule } from './devices.js';

// bpf_cgroup_dev_ctx: u32 access_type (access << 16 | type), u32 major, u32 minor
const DEV_TYPE = { b: 1, c: 2 } as const;
const ACCESS = { m: 1, r: 2, w: 4 } as const;

function insn(code: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(code, 0);
  b.writeUInt8((src << 4) | dst, 1);
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

const LDX_W = 0x61,
  AND32_K = 0x54,
  RSH32_K = 0x74,
  MOV32_X = 0xbc,
  MOV64_K = 0xb7,
  JNE_K = 0x55,
  JEQ_K = 0x15,
  EXIT = 0x95;

function accessMask(access: string): number {
  return [...access].reduce((m, c) => m | ACCESS[c as keyof typeof ACCESS], 0);
}

/** One rule: jumps past its block unless the request matches, else returns allow (1) or deny (0). */
function ruleBlock(r: DeviceRule): Buffer[] {
  const tests: ((skip: number) => Buffer[])[] = [];
  if (r.type !== 'a') tests.push((skip) => [insn(JNE_K, 2, 0, skip, DEV_TYPE[r.type as 'b' | 'c'])]);
  const mask = accessMask(r.access);
  if (r.allow && mask !== 7) {
    // every requested access must be allowed by this rule
    tests.push((skip) => [insn(MOV32_X, 6, 3, 0, 0), insn(AND32_K, 6, 0, 0, ~mask & 7), insn(JNE_K, 6, 0, skip, 0)]);
  } else if (!r.allow && mask !== 7) {
    // a deny applies when any requested access is one it names
    tests.push((skip) => [insn(MOV32_X, 6, 3, 0, 0), insn(AND32_K, 6, 0, 0, mask), insn(JEQ_K, 6, 0, skip, 0)]);
  }
  if (r.major >= 0) tests.push((skip) => [insn(JNE_K, 4, 0, skip, r.major)]);
  if (r.minor >= 0) tests.push((skip) => [insn(JNE_K, 5, 0, skip, r.minor)]);
  const tail = [insn(MOV64_K, 0, 0, 0, r.allow ? 1 : 0), insn(EXIT, 0, 0, 0, 0)];
  // laid out back to front: each test's final jump skips what follows it in the block
  const out: Buffer[] = [...tail];
  for (const t of tests.reverse()) out.unshift(...t(out.length));
  return out;
}

/** The whole program: load the context, then the rules from last to first, default deny. */
export function deviceProgram(rules: DeviceRule[]): Buffer {
  const prologue = [
    insn(LDX_W, 2, 1, 0, 0), // r2 = access_type
    insn(AND32_K, 2, 0, 0, 0xffff), // r2 = type
    insn(LDX_W, 3, 1, 0, 0),
    insn(RSH32_K, 3, 0, 0, 16), // r3 = access
    insn(LDX_W, 4, 1, 4, 0), // r4 = major
    insn(LDX_W, 5, 1, 8, 0), // r5 = minor
  ];
  const blocks: Buffer[] = [];
  for (const r of [...rules].reverse()) {
    blocks.push(...ruleBlock(r));
    // a rule that matches every request ends the program: the verifier
    // refuses the unreachable instructions that would follow it
    if (r.type === 'a' && r.major < 0 && r.minor < 0 && accessMask(r.access) === 7) return Buffer.concat([...prologue, ...blocks]);
  }
  const epilogue = [insn(MOV64_K, 0, 0, 0, 0), insn(EXIT, 0, 0, 0, 0)];
  return Buffer.concat([...prologue, ...blocks, ...epilogue]);
}
