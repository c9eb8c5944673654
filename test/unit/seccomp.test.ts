// compileSeccomp: an OCI seccomp profile compiled by libseccomp (through
// koffi) into the BPF bytes the plan carries. Skipped where libseccomp.so.2
// cannot be loaded.
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import type { Seccomp } from '../../src/spec/types.js';
import { lacks } from '../helpers.js';

const mod = await import('../../src/linux/seccomp.js').catch((e: Error) => {
  console.warn(`seccomp tests skipped: ${e.message}`);
  return undefined;
});

const BPF_LD_W_ABS = 0x20;
const BPF_RET_K = 0x06;
const SECCOMP_RET_ALLOW = 0x7fff0000;

function insns(filter: Buffer): { code: number; jt: number; jf: number; k: number }[] {
  const out = [];
  for (let o = 0; o < filter.length; o += 8)
    out.push({ code: filter.readUInt16LE(o), jt: filter[o + 2], jf: filter[o + 3], k: filter.readUInt32LE(o + 4) });
  return out;
}

const PROFILE: Seccomp = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1,
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [
    { names: ['read', 'write', 'exit_group', 'execve', 'no_such_syscall_xyz'], action: 'SCMP_ACT_ALLOW' },
    {
      names: ['personality'],
      action: 'SCMP_ACT_ALLOW',
      args: [
        { index: 0, value: 0, op: 'SCMP_CMP_EQ' },
        { index: 0, value: 8, op: 'SCMP_CMP_EQ' },
      ],
    },
    { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0x7e020000, op: 'SCMP_CMP_MASKED_EQ', valueTwo: 0 }] },
    { names: ['mount'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }, // same as the default: skipped
    { names: ['ptrace'], action: 'SCMP_ACT_KILL_PROCESS' },
  ],
};

describe.skipIf(lacks(mod))('compileSeccomp', () => {
  const { compileSeccomp } = mod!;

  it('produces a non-empty BPF program of whole instructions', () => {
    const c = compileSeccomp(PROFILE);
    expect(c.filter.length).toBeGreaterThan(0);
    expect(c.filter.length % 8).toBe(0);
    expect(c.flags).toBe(0);
    expect(c.description).toMatch(/^default SCMP_ACT_ERRNO, \d+ rules, \d+ BPF instructions$/);
    expect(c.description).toContain(`${c.filter.length / 8} BPF instructions`);
  });

  it('checks the architecture first and can return ALLOW and the default errno', () => {
    const p = insns(compileSeccomp(PROFILE).filter);
    // load seccomp_data.arch (offset 4)
    expect(p[0]).toMatchObject({ code: BPF_LD_W_ABS, k: 4 });
    const rets = p.filter((i) => i.code === BPF_RET_K).map((i) => i.k >>> 0);
    expect(rets).toContain(SECCOMP_RET_ALLOW);
    expect(rets).toContain(0x00050001); // SCMP_ACT_ERRNO(1)
    expect(rets).toContain(0x80000000); // KILL_PROCESS
  });

  it('counts rules, skipping unknown syscalls and rules that repeat the default', () => {
    const c = compileSeccomp(PROFILE);
    // 4 known names + 2 alternatives for personality + 1 clone + ptrace; mount skipped
    expect(c.description).toContain(', 8 rules,');
  });

  it('skips unknown syscall names instead of failing', () => {
    const c = compileSeccomp({
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['definitely_not_a_syscall'], action: 'SCMP_ACT_ERRNO' }],
    });
    expect(c.description).toContain(', 0 rules,');
    expect(c.filter.length % 8).toBe(0);
  });

  it('uses the errno of a rule', () => {
    const p = insns(
      compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }] }).filter,
    );
    expect(p.some((i) => i.code === BPF_RET_K && i.k >>> 0 === (0x00050000 | 38))).toBe(true);
  });

  it('maps flags', () => {
    const c = compileSeccomp({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'] });
    expect(c.flags).toBe(2 | 4);
  });

  function fieldOf(profile: Seccomp): string {
    try {
      compileSeccomp(profile);
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      return (e as SpecError).field;
    }
    throw new Error('compileSeccomp accepted the profile');
  }

  it("compiles podman's default profile shape: socketcall (an x86-only name) first, then conditional socket rules", () => {
    // On SCMP_ARCH_X86 libseccomp turns each `socket` rule into a socketcall
    // rule too, dropping its argument checks, so these rules conflict
    // (EEXIST) unless the unconditional socketcall ALLOW, a pseudo-syscall on
    // x86_64, was added first and made them redundant; runc adds it.
    const podmanLike: Seccomp = {
      defaultAction: 'SCMP_ACT_ERRNO',
      defaultErrnoRet: 38,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
      syscalls: [
        { names: ['read', 'socket', 'socketcall', '_llseek'], action: 'SCMP_ACT_ALLOW' },
        {
          names: ['socket'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 22,
          args: [
            { index: 0, value: 16, op: 'SCMP_CMP_EQ' },
            { index: 2, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 2, value: 9, op: 'SCMP_CMP_NE' }] },
        { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 16, op: 'SCMP_CMP_NE' }] },
      ],
    };
    expect(compileSeccomp(podmanLike).filter.length).toBeGreaterThan(0);
  });

  it('rejects an unknown default action', () => {
    expect(fieldOf({ defaultAction: 'SCMP_ACT_NOPE' })).toBe('linux.seccomp.defaultAction');
  });

  it('rejects an unknown rule action', () => {
    expect(
      fieldOf({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['read'], action: 'SCMP_ACT_ALLOW' },
          { names: ['write'], action: 'SCMP_ACT_BOGUS' },
        ],
      }),
    ).toBe('linux.seccomp.syscalls[1].action');
  });

  it('rejects SCMP_ACT_NOTIFY (no listener support)', () => {
    expect(fieldOf({ defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_NOTIFY' }] })).toBe(
      'linux.seccomp.syscalls[0].action',
    );
  });

  it('rejects an unknown operator and a bad argument index', () => {
    expect(
      fieldOf({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_ALMOST' }] }],
      }),
    ).toBe('linux.seccomp.syscalls[0].args[0].op');
    expect(
      fieldOf({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] }],
      }),
    ).toBe('linux.seccomp.syscalls[0].args[0].index');
  });

  it('rejects an unknown architecture', () => {
    expect(fieldOf({ defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_VAX'] })).toBe(
      'linux.seccomp.architectures[1]',
    );
  });

  it('rejects an unknown flag', () => {
    expect(fieldOf({ defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_MAGIC'] })).toBe('linux.seccomp.flags[0]');
  });
});
