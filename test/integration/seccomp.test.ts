// linux.seccomp: rules with errno, argument conditions, kill and allow-list
// profiles, applied with and without no_new_privs; bad profiles are refused.
import { afterAll, describe, expect, it } from 'vitest';
import type { Seccomp, Spec } from '../../src/spec/types.js';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { expectNothingLeft, shBundle, uniqueId } from './lib.js';

const arch = process.arch === 'x64' ? 'SCMP_ARCH_X86_64' : process.arch === 'arm64' ? 'SCMP_ARCH_AARCH64' : undefined;

/** A writable /tmp (the demo root is read-only) and the profile. */
function withSeccomp(profile: Seccomp, more: (s: Spec) => void = () => {}): (s: Spec) => void {
  return (s) => {
    s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
    s.linux!.seccomp = { architectures: arch ? [arch] : undefined, ...profile };
    more(s);
  };
}

/** Enough for busybox sh and a few applets; everything else is refused. */
const ALLOW_LIST = [
  'access',
  'arch_prctl',
  'brk',
  'capget',
  'chdir',
  'close',
  'close_range',
  'dup',
  'dup2',
  'dup3',
  'execve',
  'execveat',
  'exit',
  'exit_group',
  'faccessat',
  'faccessat2',
  'fcntl',
  'fstat',
  'fstatfs',
  'futex',
  'getcwd',
  'getdents64',
  'getegid',
  'geteuid',
  'getgid',
  'getpgrp',
  'getpid',
  'getppid',
  'getrandom',
  'getrlimit',
  'gettid',
  'getuid',
  'ioctl',
  'lseek',
  'lstat',
  'madvise',
  'mmap',
  'mprotect',
  'munmap',
  'newfstatat',
  'open',
  'openat',
  'pipe',
  'pipe2',
  'poll',
  'ppoll',
  'prlimit64',
  'pread64',
  'read',
  'readlink',
  'readlinkat',
  'rseq',
  'rt_sigaction',
  'rt_sigprocmask',
  'rt_sigreturn',
  'sched_getaffinity',
  'set_robust_list',
  'set_tid_address',
  'setpgid',
  'stat',
  'statx',
  'sysinfo',
  'time',
  'clock_gettime',
  'gettimeofday',
  'vfork',
  'clone',
  'clone3',
  'fork',
  'wait4',
  'waitid',
  'write',
  'writev',
  'prctl',
  'getdents',
  'umask',
  'uname',
];

describe.skipIf(lacks(isRoot))('seccomp (root, real kernel)', () => {
  const sb = new Sandbox('tcr-seccomp');
  afterAll(() => sb.cleanup());

  it('a syscall rule with SCMP_ACT_ERRNO returns the configured errno (38: Function not implemented)', () => {
    const r = sb.run(
      'mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo touched',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
      }),
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("mkdir: can't create directory '/tmp/d': Function not implemented\n");
    expect(r.stdout).toBe('rc=1\ntouched\n');
  });

  it('a profile is compiled once, then its filter comes from the cache, and still enforced', () => {
    // a profile no earlier run compiled: the cache (/run/tcr-cache) outlives test runs and sandboxes
    const never = {
      names: ['fchown'],
      action: 'SCMP_ACT_ERRNO' as const,
      errnoRet: 1,
      args: [{ index: 1, value: 1e9 + Math.floor(Math.random() * 1e9), op: 'SCMP_CMP_EQ' as const }],
    };
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 39 + Math.floor(Math.random() * 20) }, never],
    };
    const first = sb.run('mkdir /tmp/d; echo rc=$?', withSeccomp(profile), ['--trace']);
    expect(first.stderr).toMatch(/seccomp filter: default SCMP_ACT_ALLOW, \d+ rules, \d+ BPF instructions: ok/);
    const second = sb.run('mkdir /tmp/d; echo rc=$?', withSeccomp(profile), ['--trace']);
    expect(second.stderr).toMatch(/seccomp filter: .*\(cached\): ok/);
    expect(second.stdout).toBe(first.stdout);
    expect(second.stdout).toMatch(/rc=1/);
  });

  it('the same container without the profile can mkdir (control)', () => {
    const r = sb.run(
      'mkdir /tmp/d; echo rc=$?; grep -E "^(Seccomp|NoNewPrivs):" /proc/self/status',
      withSeccomp({ defaultAction: 'SCMP_ACT_ALLOW' }, (s) => {
        delete s.linux!.seccomp;
      }),
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('rc=0\nNoNewPrivs:\t1\nSeccomp:\t0\n');
  });

  it('the filter is installed in mode 2 with no_new_privs, and also without it (loaded while CAP_SYS_ADMIN is held)', () => {
    const profile: Seccomp = {
      defaultAction: 'SCMP_ACT_ALLOW',
      syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
    };
    for (const nnp of [true, false]) {
      const r = sb.run(
        'grep -E "^(Seccomp|Seccomp_filters|NoNewPrivs):" /proc/self/status; mkdir /tmp/d 2>/dev/null; echo rc=$?',
        withSeccomp(profile, (s) => {
          s.process!.noNewPrivileges = nnp;
        }),
      );
      expect(r.stderr, `nnp=${nnp}`).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout, `nnp=${nnp}`).toBe(`NoNewPrivs:\t${nnp ? 1 : 0}\nSeccomp:\t2\nSeccomp_filters:\t1\nrc=1\n`);
    }
  });

  it('argument conditions: SCMP_CMP_EQ blocks chmod only for mode 0777', () => {
    const r = sb.run(
      'touch /tmp/f; chmod 777 /tmp/f; echo a=$?; chmod 755 /tmp/f; echo b=$?; stat -c %a /tmp/f',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          { names: ['chmod'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 1, value: 0o777, op: 'SCMP_CMP_EQ' }] },
          {
            names: ['fchmodat', 'fchmodat2'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 1,
            args: [{ index: 2, value: 0o777, op: 'SCMP_CMP_EQ' }],
          },
        ],
      }),
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('chmod: /tmp/f: Operation not permitted\n');
    expect(r.stdout).toBe('a=1\nb=0\n755\n');
  });

  it('argument conditions: SCMP_CMP_MASKED_EQ blocks setting the setuid bit, whatever the other bits', () => {
    const r = sb.run(
      'touch /tmp/f; chmod 4755 /tmp/f; echo a=$?; chmod 4700 /tmp/f; echo b=$?; chmod 0750 /tmp/f; echo c=$?; stat -c %a /tmp/f',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [
          {
            names: ['chmod'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 13,
            args: [{ index: 1, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }],
          },
          {
            names: ['fchmodat', 'fchmodat2'],
            action: 'SCMP_ACT_ERRNO',
            errnoRet: 13,
            args: [{ index: 2, value: 0o4000, valueTwo: 0o4000, op: 'SCMP_CMP_MASKED_EQ' }],
          },
        ],
      }),
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('chmod: /tmp/f: Permission denied\nchmod: /tmp/f: Permission denied\n');
    expect(r.stdout).toBe('a=1\nb=1\nc=0\n750\n');
  });

  it('SCMP_ACT_KILL_PROCESS kills the caller with SIGSYS', () => {
    const r = sb.run(
      'echo start; mkdir /tmp/d; echo rc=$?; test -d /tmp/d || echo no-dir',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_KILL_PROCESS' }],
      }),
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`start\nrc=${128 + 31}\nno-dir\n`);
    expect(r.stderr).toContain('Bad system call');
  });

  it('a default action of ERRNO with an allow list: allowed calls work, the rest return the default errno', () => {
    const r = sb.run(
      'echo hello; cat /proc/self/comm; mkdir /tmp/d; echo mkdir=$?; hostname x 2>/dev/null; echo sethostname=$?',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38,
        syscalls: [{ names: ALLOW_LIST, action: 'SCMP_ACT_ALLOW' }],
      }),
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('hello\ncat\nmkdir=1\nsethostname=1\n');
    expect(r.stderr).toBe("mkdir: can't create directory '/tmp/d': Function not implemented\n");
  });

  it('the default errno of SCMP_ACT_ERRNO without errnoRet is EPERM', () => {
    const r = sb.run(
      'mkdir /tmp/d',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' }],
      }),
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mkdir: can't create directory '/tmp/d': Operation not permitted\n");
  });

  it('unknown syscall names are skipped, as runc does', () => {
    const r = sb.run(
      'mkdir /tmp/d; echo rc=$?',
      withSeccomp({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['no_such_syscall_xyz', 'mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 }],
      }),
    );
    expect(r.stdout).toBe('rc=1\n');
    expect(r.stderr).toContain('Function not implemented');
  });

  it.each([
    ['an unknown action', { defaultAction: 'SCMP_ACT_EXPLODE' }, /linux\.seccomp\.defaultAction.*SCMP_ACT_EXPLODE/],
    [
      'an unknown rule action',
      { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_NOPE' }] },
      /linux\.seccomp\.syscalls\[0\]\.action/,
    ],
    [
      'an unknown operator',
      {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['chmod'], action: 'SCMP_ACT_ERRNO', args: [{ index: 1, value: 1, op: 'SCMP_CMP_SOMETIMES' }] }],
      },
      /linux\.seccomp\.syscalls\[0\]\.args\[0\]\.op/,
    ],
    [
      'an unknown architecture',
      { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_PDP11'] },
      /linux\.seccomp\.architectures\[0\]/,
    ],
    ['an unknown flag', { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_MAGIC'] }, /linux\.seccomp\.flags\[0\]/],
  ])('refuses %s with exit 1, naming the field, leaving nothing', (_what, profile, message) => {
    const id = uniqueId('badsc');
    const b = shBundle(sb, id, 'echo ran', (s) => {
      s.linux!.seccomp = profile;
    });
    const r = sb.tcr(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    expectNothingLeft(sb, id);
  });
});
