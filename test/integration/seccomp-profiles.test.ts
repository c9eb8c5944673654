// Profiles written for other runtimes: an allow list from before close_range
// and clone3 existed (Docker's default before 20.10, the OCI suite's, many
// Kubernetes ones) and a strict list holding only what a static program and
// the runtime's own last steps need. Each must start the container, with and
// without no_new_privs, because tcr makes no call after the filter that runc
// does not make after its own.
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BLOCKED_SYSCALLS } from '../../src/run/default-seccomp.js';
import type { Seccomp, Spec } from '../../src/spec/types.js';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { expectNothingLeft, shBundle, uniqueId } from './lib.js';

const UNISTD = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
/** Linux 5.1's first new call (pidfd_send_signal): everything below existed when Docker 19.03's profile was written. */
const FIRST_CALL_AFTER_5_0 = 424;

/** Every x86_64 syscall of Linux 5.0 but the ones Docker blocks: an allow list of its pre-20.10 shape. */
function allowListOfLinux50(): string[] {
  const blocked = new Set(BLOCKED_SYSCALLS);
  return [...fs.readFileSync(UNISTD, 'utf8').matchAll(/^#define __NR_(\w+) (\d+)$/gm)]
    .filter(([, name, nr]) => Number(nr) < FIRST_CALL_AFTER_5_0 && !blocked.has(name))
    .map(([, name]) => name);
}

/** busybox's `echo` as a static program (strace of Debian's busybox-static), plus the calls runc also makes after its filter. */
const STATIC_ECHO = [
  'execve',
  'arch_prctl',
  'brk',
  'exit_group',
  'getrandom',
  'getuid',
  'mprotect',
  'prlimit64',
  'readlink',
  'rseq',
  'set_robust_list',
  'set_tid_address',
  'write',
];
const RUNTIME_AFTER_FILTER = ['prctl', 'capset', 'setgroups', 'setresgid', 'setresuid'];

function allowOnly(names: string[]): Seccomp {
  return { defaultAction: 'SCMP_ACT_ERRNO', architectures: ['SCMP_ARCH_X86_64'], syscalls: [{ names, action: 'SCMP_ACT_ALLOW' }] };
}

describe.skipIf(lacks(isRoot && fs.existsSync(UNISTD)) || process.arch !== 'x64')(
  'seccomp profiles written for runc (root, real kernel)',
  () => {
    const sb = new Sandbox('tcr-scprof');
    afterAll(() => sb.cleanup());

    const withProfile = (profile: Seccomp, nnp: boolean) => (s: Spec) => {
      s.linux!.seccomp = profile;
      s.process!.noNewPrivileges = nnp;
      s.process!.user.umask = 0o022;
    };

    it('a Linux 5.0 allow list (no close_range, no clone3): the container runs, under the filter', () => {
      const list = allowListOfLinux50();
      expect(list).toContain('execve');
      expect(list).not.toContain('close_range');
      for (const nnp of [true, false]) {
        const r = sb.run(
          'grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status; mkdir /proc/x 2>/dev/null; unshare -U true 2>/dev/null || echo unshare-denied',
          withProfile(allowOnly(list), nnp),
        );
        expect(r.stderr, `nnp=${nnp}`).toBe('');
        expect(r.status, `nnp=${nnp}`).toBe(0);
        expect(r.stdout, `nnp=${nnp}`).toBe(`NoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\nunshare-denied\n`);
      }
    });

    it('the same list through create and start (the exec fifo is waited on before the filter)', () => {
      for (const nnp of [true, false]) {
        const id = uniqueId('sc50');
        const out = `${sb.dir}/${id}.out`;
        const b = shBundle(sb, id, `echo started > /dev/null; exit 7`, withProfile(allowOnly(allowListOfLinux50()), nnp));
        const fd = fs.openSync(out, 'w');
        try {
          expect(sb.tcr(['create', '--bundle', b, id], { stdio: ['ignore', fd, fd] }).status, fs.readFileSync(out, 'utf8')).toBe(0);
        } finally {
          fs.closeSync(fd);
        }
        expect(sb.tcr(['start', id]).status).toBe(0);
        for (let i = 0; i < 200 && JSON.parse(sb.tcr(['state', id]).stdout).status !== 'stopped'; i++)
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
        expect(JSON.parse(sb.tcr(['state', id]).stdout).status).toBe('stopped');
        expect(fs.readFileSync(out, 'utf8')).toBe('');
        expect(sb.tcr(['delete', id]).status).toBe(0);
        expectNothingLeft(sb, id);
      }
    });

    it('a strict allow list, only a static echo and the calls runc makes after its filter: runs', () => {
      for (const nnp of [true, false]) {
        const id = uniqueId('strict');
        const b = sb.bundle(id, (s) => {
          s.process!.args = ['/bin/busybox', 'echo', 'hello from a strict profile'];
          withProfile(allowOnly([...STATIC_ECHO, ...RUNTIME_AFTER_FILTER]), nnp)(s);
        });
        const r = sb.tcr(['run', '--bundle', b, id]);
        expect(r.stderr, `nnp=${nnp}`).toBe('');
        expect(r.stdout, `nnp=${nnp}`).toBe('hello from a strict profile\n');
        expect(r.status).toBe(0);
        expectNothingLeft(sb, id);
      }
    });

    it('a profile that denies what runs after it: the error blames linux.seccomp and the step, and nothing is left', () => {
      for (const [nnp, missing] of [
        [false, 'capset'],
        [true, 'execve'],
      ] as const) {
        const id = uniqueId('deny');
        const b = sb.bundle(id, (s) => {
          s.process!.args = ['/bin/busybox', 'echo', 'never'];
          withProfile(allowOnly([...STATIC_ECHO, ...RUNTIME_AFTER_FILTER].filter((n) => n !== missing)), nnp)(s);
        });
        const r = sb.tcr(['run', '--bundle', b, id]);
        expect(r.status, `without ${missing}`).not.toBe(0);
        expect(r.stdout).toBe('');
        expect(r.stderr, `without ${missing}`).toMatch(
          new RegExp(
            `linux\\.seccomp: the profile probably denies a call made after it is loaded .*step \\d+ ${missing === 'capset' ? 'capset' : 'execve'}.*EPERM`,
          ),
        );
        expectNothingLeft(sb, id);
      }
    });

    it('leaves the runtime root empty once its containers are gone: the filter cache lives outside it (an engine owns the root)', () => {
      expect(fs.readdirSync(sb.root)).toEqual([]);
    });
  },
);
