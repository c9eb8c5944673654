// What the container's process sees of itself: capabilities, no_new_privs,
// user and groups, umask, rlimits, environment, working directory,
// oom_score_adj, and how args[0] is found.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, type Result, lacks } from '../helpers.js';
import { expectNothingLeft, runDetached, shBundle, uniqueId } from './lib.js';
import type { Spec } from '../../src/spec/types.js';

const STATUS_KEYS = /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):/;

/** The interesting lines of /proc/self/status as a map. */
function statusOf(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.split('\n')) {
    if (!STATUS_KEYS.test(line)) continue;
    const [k, v] = line.split(':');
    m[k] = v.trim().replace(/\s+/g, ' ');
  }
  return m;
}

/** Splits the output of a script that prints sections after "== name" lines. */
function sections(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    const h = /^== (\S+)$/.exec(line);
    if (h) {
      cur = h[1];
      m[cur] = '';
    } else if (cur) m[cur] += line + '\n';
  }
  for (const k of Object.keys(m)) m[k] = m[k].trimEnd();
  return m;
}

const PROBE = [
  'echo "== status"; cat /proc/self/status',
  'echo "== umask"; umask',
  'echo "== limits"; cat /proc/self/limits',
  'echo "== env"; env',
  'echo "== pwd"; pwd',
  'echo "== oom"; cat /proc/self/oom_score_adj',
].join('; ');

describe.skipIf(lacks(isRoot))('the container process (root, real kernel)', () => {
  const sb = new Sandbox('tcr-proc');
  afterAll(() => sb.cleanup());

  describe('with the demo config (root, default capabilities, noNewPrivileges)', () => {
    let r: Result;
    let s: Record<string, string>;
    beforeAll(() => {
      r = sb.run(PROBE);
      s = sections(r.stdout);
    });

    it('runs successfully', () => {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('has exactly CAP_AUDIT_WRITE, CAP_KILL and CAP_NET_BIND_SERVICE', () => {
      const st = statusOf(s.status);
      expect(st.CapEff).toBe('0000000020000420');
      expect(st.CapPrm).toBe('0000000020000420');
      expect(st.CapBnd).toBe('0000000020000420');
      expect(st.CapInh).toBe('0000000000000000');
      // ambient caps must also be inheritable; the demo config has none inheritable
      expect(st.CapAmb).toBe('0000000000000000');
    });

    it('has no_new_privs set and runs as root', () => {
      const st = statusOf(s.status);
      expect(st.NoNewPrivs).toBe('1');
      expect(st.Uid).toBe('0 0 0 0');
      expect(st.Gid).toBe('0 0 0 0');
      expect(st.Groups).toBe('');
    });

    it('has the config rlimit (RLIMIT_NOFILE 1024/1024) and cwd /', () => {
      expect(s.limits).toMatch(/^Max open files\s+1024\s+1024\s+files/m);
      expect(s.pwd).toBe('/');
    });
  });

  describe('with user 1000:1000, groups, umask, rlimits, env, cwd, oomScoreAdj and chosen capabilities', () => {
    let r: Result;
    let s: Record<string, string>;
    beforeAll(() => {
      r = sb.run(PROBE, (spec) => {
        const p = spec.process!;
        p.user = { uid: 1000, gid: 1000, additionalGids: [10, 2000], umask: 0o027 };
        p.rlimits = [
          { type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 },
          { type: 'RLIMIT_CORE', soft: 0, hard: 4096 },
        ];
        p.env = ['PATH=/bin:/usr/bin', 'FOO=bar baz', 'EMPTY='];
        p.cwd = '/work/here';
        p.oomScoreAdj = 500;
        p.noNewPrivileges = false;
        p.capabilities = {
          bounding: ['CAP_CHOWN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'],
          effective: ['CAP_NET_RAW'],
          permitted: ['CAP_NET_RAW'],
          inheritable: ['CAP_NET_RAW'],
          ambient: ['CAP_NET_RAW'],
        };
      });
      s = sections(r.stdout);
    });

    it('runs successfully', () => {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('runs as uid 1000, gid 1000 with the additional gids', () => {
      const st = statusOf(s.status);
      expect(st.Uid).toBe('1000 1000 1000 1000');
      expect(st.Gid).toBe('1000 1000 1000 1000');
      expect(st.Groups).toBe('10 2000');
    });

    it('keeps only the ambient capability across exec as a non-root user; the bounding set is the configured one', () => {
      const st = statusOf(s.status);
      expect(st.CapBnd).toBe('0000000000202001'); // CHOWN, NET_RAW, SYS_ADMIN
      expect(st.CapInh).toBe('0000000000002000');
      expect(st.CapAmb).toBe('0000000000002000');
      expect(st.CapPrm).toBe('0000000000002000');
      expect(st.CapEff).toBe('0000000000002000');
    });

    it('has no_new_privs off when noNewPrivileges is false', () => {
      expect(statusOf(s.status).NoNewPrivs).toBe('0');
    });

    it('has the umask', () => {
      expect(s.umask).toBe('0027');
    });

    it('has the rlimits', () => {
      expect(s.limits).toMatch(/^Max open files\s+512\s+1000\s+files/m);
      expect(s.limits).toMatch(/^Max core file size\s+0\s+4096\s+bytes/m);
    });

    it("has exactly the configured environment (nothing of the runtime's)", () => {
      const env = s.env
        .split('\n')
        .filter((l) => !/^(PWD|SHLVL|OLDPWD)=/.test(l))
        .sort();
      // HOME added as runc adds it: uid 1000 has no entry in the demo's /etc/passwd, so /
      expect(env).toEqual(['EMPTY=', 'FOO=bar baz', 'HOME=/', 'PATH=/bin:/usr/bin']);
    });

    it('runs in the cwd, created when missing', () => {
      expect(s.pwd).toBe('/work/here');
    });

    it('has the oom_score_adj', () => {
      expect(s.oom).toBe('500');
    });
  });

  it("as root without no_new_privs, the kernel gives the process the bounding set at exec (root's implicit file capabilities)", () => {
    const r = sb.run('grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status', (spec) => {
      spec.process!.noNewPrivileges = false;
      spec.process!.capabilities = { bounding: ['CAP_CHOWN', 'CAP_NET_RAW'], effective: [], permitted: [], inheritable: [], ambient: [] };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('CapPrm:\t0000000000002001\nCapEff:\t0000000000002001\nCapBnd:\t0000000000002001\n');
  });

  it('as root with no_new_privs, exec gains nothing beyond the permitted set', () => {
    const r = sb.run('grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status', (spec) => {
      spec.process!.noNewPrivileges = true;
      spec.process!.capabilities = {
        bounding: ['CAP_CHOWN', 'CAP_NET_RAW'],
        effective: ['CAP_CHOWN'],
        permitted: ['CAP_CHOWN'],
        inheritable: [],
        ambient: [],
      };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('CapPrm:\t0000000000000001\nCapEff:\t0000000000000001\nCapBnd:\t0000000000002001\n');
  });

  it('a non-root user without ambient capabilities has none', () => {
    const r = sb.run('grep -E "^Cap(Eff|Prm|Bnd)" /proc/self/status', (spec) => {
      spec.process!.user = { uid: 1000, gid: 1000 };
      spec.process!.capabilities = {
        bounding: ['CAP_KILL'],
        effective: ['CAP_KILL'],
        permitted: ['CAP_KILL'],
        inheritable: [],
        ambient: [],
      };
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000020\n');
  });

  it("does not leak the runtime's environment into the container", () => {
    const id = uniqueId('env');
    const b = shBundle(sb, id, 'env');
    const r = sb.tcr(['run', '--bundle', b, id], { env: { ...process.env, TCR_TEST_LEAK: 'leaked' } });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('TCR_TEST_LEAK');
    expect(r.stdout).toContain('TERM=xterm');
  });

  it('looks args[0] up in the PATH of process.env', () => {
    const id = uniqueId('path');
    const b = sb.bundle(id, (spec) => {
      spec.process!.args = ['greet', 'one', 'two'];
      spec.process!.env = ['PATH=/opt/none:/opt/tools:/bin'];
    });
    fs.mkdirSync(path.join(b, 'rootfs/opt/tools'), { recursive: true });
    fs.writeFileSync(path.join(b, 'rootfs/opt/tools/greet'), '#!/bin/sh\necho "greet-ok $0 $*"\n', { mode: 0o755 });
    const r = sb.tcr(['run', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('greet-ok /opt/tools/greet one two\n');
    expect(r.status).toBe(0);
  });

  it('a bare args[0] is not looked up outside PATH', () => {
    const id = uniqueId('nopath');
    const b = sb.bundle(id, (spec) => {
      spec.process!.args = ['hostname'];
      spec.process!.env = ['PATH=/usr/bin'];
    });
    const r = sb.tcr(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('"hostname"');
    expectNothingLeft(sb, id);
  });

  it.each([
    ['a missing command', ['nosuchcmd', 'x'], /"nosuchcmd".*ENOENT/],
    ['a missing absolute path', ['/bin/nosuch'], /"\/bin\/nosuch".*ENOENT/],
    ['a directory', ['/etc'], /"\/etc".*EACCES/],
  ])('create fails clearly for %s as args[0] and leaves nothing', (_what, args, message) => {
    const id = uniqueId('noexec');
    const b = sb.bundle(id, (spec) => {
      spec.process!.args = args;
    });
    const r = sb.tcr(['create', '--bundle', b, id]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^tcr: /);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expectNothingLeft(sb, id);
  });

  it('a file without the exec bit fails create with EACCES', () => {
    const id = uniqueId('noexec');
    const b = sb.bundle(id, (spec) => {
      spec.process!.args = ['/plain'];
    });
    fs.writeFileSync(path.join(b, 'rootfs/plain'), '#!/bin/sh\necho no\n', { mode: 0o644 });
    const r = sb.tcr(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/"\/plain".*EACCES/);
    expectNothingLeft(sb, id);
  });
});

describe.skipIf(lacks(isRoot))('HOME, when neither the image nor the engine sets it (as runc)', () => {
  const sb = new Sandbox('tcr-home');
  afterAll(() => sb.cleanup());
  const noHome = (uid: number) => (s: Spec) => {
    s.process!.env = (s.process!.env ?? []).filter((e) => !e.startsWith('HOME='));
    s.process!.user = { uid, gid: uid };
  };

  it("comes from the rootfs' /etc/passwd, else /; a given HOME is kept", () => {
    expect(sb.run('echo $HOME', noHome(0)).stdout).toBe('/root\n');
    expect(sb.run('echo $HOME', noHome(4321)).stdout).toBe('/\n');
    expect(sb.run('echo $HOME', (s) => s.process!.env!.push('HOME=/given')).stdout).toBe('/given\n');
  });

  it('is set for exec too', () => {
    const c = runDetached(sb, 'sleep 30', noHome(0));
    try {
      const r = sb.tcr(['exec', '--env', 'X=1', c.id, 'sh', '-c', 'echo $HOME']);
      expect(r.stdout).toBe('/root\n');
    } finally {
      sb.tcr(['delete', '--force', c.id]);
    }
  });
});
