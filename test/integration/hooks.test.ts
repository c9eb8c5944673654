// OCI hooks: all six kinds, their order, the state each one reads on stdin,
// where each runs (host or container namespaces), failures and timeouts.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hook, Spec } from '../../src/spec/types.js';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { alive, expectNothingLeft, shBundle, state, tcrToFile, uniqueId, waitFor } from './lib.js';

interface Entry {
  name: string;
  state: Record<string, unknown>;
  hostname: string;
  mntns: string;
  utsns: string;
}

/** The hook script: logs "<name>\t<state>\t<hostname>\t<mnt ns>\t<uts ns>" to the log dir given as $2. */
const LOG_HOOK = `#!/bin/sh
name=$1
log=$2/hooks.log
state=$(cat)
printf '%s\\t%s\\t%s\\t%s\\t%s\\n' "$name" "$state" "$(hostname)" "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/uts)" >> "$log"
`;

function readLog(dir: string): Entry[] {
  const file = path.join(dir, 'hooks.log');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name, st, hostname, mntns, utsns] = l.split('\t');
      return { name, state: JSON.parse(st), hostname, mntns, utsns };
    });
}

describe.skipIf(lacks(isRoot))('hooks (root, real kernel)', () => {
  const sb = new Sandbox('tcr-hooks');
  afterAll(() => sb.cleanup());
  let hostHook: string;

  beforeAll(() => {
    // the runtime-side hooks run as root from the host; the sandbox dir must be reachable
    fs.chmodSync(sb.dir, 0o755);
    hostHook = path.join(sb.dir, 'log-hook.sh');
    fs.writeFileSync(hostHook, LOG_HOOK, { mode: 0o755 });
  });

  /** A bundle with every hook logging to logDir (bind-mounted at /hooklog inside). */
  function hookedBundle(id: string, script: string, logDir: string, edit: (s: Spec) => void = () => {}): string {
    fs.mkdirSync(logDir, { recursive: true });
    const h = (name: string, p = hostHook, dir = logDir): Hook => ({ path: p, args: ['log-hook', name, dir] });
    const b = shBundle(sb, id, script, (s) => {
      s.mounts!.push({ destination: '/hooklog', type: 'bind', source: logDir, options: ['bind', 'rw'] });
      s.hooks = {
        createRuntime: [h('createRuntime')],
        prestart: [h('prestart')],
        createContainer: [h('createContainer')],
        // resolved inside the container after pivot_root: a script of the rootfs, logging to the bind mount
        startContainer: [h('startContainer', '/hooks/log-hook.sh', '/hooklog')],
        poststart: [h('poststart')],
        poststop: [h('poststop')],
      };
      edit(s);
    });
    fs.mkdirSync(path.join(b, 'rootfs', 'hooks'));
    fs.writeFileSync(path.join(b, 'rootfs', 'hooks', 'log-hook.sh'), LOG_HOOK, { mode: 0o755 });
    return b;
  }

  describe('create, start, kill, delete with all six hooks', () => {
    const id = uniqueId('hooks');
    let logDir: string;
    let bundle: string;
    let pid: number;
    let log: Entry[];
    let initMnt: string;
    const hostMnt = fs.readlinkSync('/proc/self/ns/mnt');
    const hostUts = fs.readlinkSync('/proc/self/ns/uts');

    beforeAll(async () => {
      logDir = path.join(sb.dir, 'log-all');
      bundle = hookedBundle(id, 'echo "process\t{}" >> /hooklog/hooks.log; sleep 30', logDir, (s) => {
        s.hostname = 'hooked';
      });
      const c = tcrToFile(sb, ['create', '--bundle', bundle, id]);
      expect(c.stdout).toBe('');
      expect(c.status).toBe(0);
      pid = state(sb, id).pid as number;
      const mntAtCreate = fs.readlinkSync(`/proc/${pid}/ns/mnt`);
      expect(sb.tcr(['start', id]).status).toBe(0);
      await waitFor(() => fs.readFileSync(path.join(logDir, 'hooks.log'), 'utf8').includes('process'), 5000, 'process');
      initMnt = mntAtCreate;
      expect(sb.tcr(['kill', id, 'KILL']).status).toBe(0);
      await waitFor(() => !alive(pid), 5000, 'init exit');
      const d = sb.tcr(['delete', id]);
      expect(d.stderr).toBe('');
      expect(d.status).toBe(0);
      log = readLogSkippingProcess(logDir);
    });

    function readLogSkippingProcess(dir: string): Entry[] {
      const file = path.join(dir, 'hooks.log');
      return fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          if (l.startsWith('process')) return { name: 'process', state: {}, hostname: '', mntns: '', utsns: '' };
          const [name, st, hostname, mntns, utsns] = l.split('\t');
          return { name, state: JSON.parse(st), hostname, mntns, utsns };
        });
    }

    it('runs every hook once, in the order of the spec', () => {
      const names = log.map((e) => e.name);
      expect(names).toHaveLength(7);
      expect(new Set(names.slice(0, 2))).toEqual(new Set(['createRuntime', 'prestart']));
      // the process' own line may come before or after poststart, which runs once it was exec'd
      expect(names.filter((n) => n !== 'process').slice(2)).toEqual(['createContainer', 'startContainer', 'poststart', 'poststop']);
      expect(names.indexOf('startContainer')).toBeLessThan(names.indexOf('process'));
      expect(names.indexOf('process')).toBeLessThan(names.indexOf('poststop'));
    });

    it('gives each hook the container state on stdin', () => {
      const by = Object.fromEntries(log.map((e) => [e.name, e.state]));
      for (const name of ['createRuntime', 'prestart', 'createContainer', 'startContainer', 'poststart', 'poststop']) {
        expect(by[name], name).toMatchObject({ id, bundle, ociVersion: expect.any(String) });
      }
      for (const name of ['createRuntime', 'prestart', 'createContainer', 'startContainer', 'poststart'])
        expect(by[name].pid, name).toBe(pid);
      expect(by.createRuntime.status).toBe('creating');
      expect(by.prestart.status).toBe('creating');
      expect(by.createContainer.status).toBe('creating');
      expect(by.startContainer.status).toBe('created');
      expect(by.poststart.status).toBe('running');
      expect(by.poststop.status).toBe('stopped');
    });

    it("runs createRuntime, prestart, poststart and poststop in the runtime's namespaces", () => {
      for (const e of log.filter((x) => ['createRuntime', 'prestart', 'poststart', 'poststop'].includes(x.name))) {
        expect(e.hostname, e.name).toBe(os.hostname());
        expect(e.mntns, e.name).toBe(hostMnt);
        expect(e.utsns, e.name).toBe(hostUts);
      }
    });

    it("runs createContainer and startContainer in the container's namespaces", () => {
      for (const e of log.filter((x) => ['createContainer', 'startContainer'].includes(x.name))) {
        expect(e.hostname, e.name).toBe('hooked');
        expect(e.mntns, e.name).toBe(initMnt);
        expect(e.utsns, e.name).not.toBe(hostUts);
      }
    });

    it('leaves nothing behind', () => {
      expectNothingLeft(sb, id);
    });
  });

  it('tcr run runs the hooks too, poststop after the process exits', () => {
    const id = uniqueId('runhooks');
    const logDir = path.join(sb.dir, `log-${id}`);
    const b = hookedBundle(id, 'echo "process\t{}" >> /hooklog/hooks.log', logDir);
    const r = sb.tcr(['run', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const names = fs
      .readFileSync(path.join(logDir, 'hooks.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split('\t')[0]);
    expect(names).toHaveLength(7);
    expect(names.slice(2, 4)).toEqual(['createContainer', 'startContainer']);
    expect(names.at(-1)).toBe('poststop');
    expectNothingLeft(sb, id);
  });

  describe('a failing hook', () => {
    let failHook: string;
    beforeAll(() => {
      failHook = path.join(sb.dir, 'fail-hook.sh');
      fs.writeFileSync(failHook, '#!/bin/sh\ncat >/dev/null\necho "hook says no" >&2\nexit 3\n', { mode: 0o755 });
    });

    it.each(['prestart', 'createRuntime', 'createContainer'] as const)('%s fails create with exit 1 and leaves nothing', (kind) => {
      const id = uniqueId(kind);
      const logDir = path.join(sb.dir, `log-${id}`);
      const b = hookedBundle(id, 'echo ran', logDir, (s) => {
        s.hooks![kind] = [{ path: failHook, args: ['fail-hook'] }];
      });
      const r = tcrToFile(sb, ['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(new RegExp(`${kind} hook 0`));
      expect(r.stdout).toContain(failHook);
      expect(r.stdout).not.toContain('ran');
      expectNothingLeft(sb, id);
      // no later hook ran, and no poststop either: the container never existed
      const names = readLog(logDir).map((e) => e.name);
      expect(names).not.toContain('startContainer');
      expect(names).not.toContain('poststart');
    });

    it('a missing hook binary fails create with a message naming it', () => {
      const id = uniqueId('missing');
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.hooks = { prestart: [{ path: '/nonexistent/hook' }] };
      });
      const r = tcrToFile(sb, ['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stdout).toContain('/nonexistent/hook');
      expectNothingLeft(sb, id);
    });

    it('a container-side hook that exits 127 is a failed hook, one that cannot be executed says why', () => {
      // the executor reports execve's own errno; an exit status of 127 is only the hook's answer
      const cases: [{ path: string; args?: string[] }, RegExp][] = [
        [{ path: '/bin/sh', args: ['sh', '-c', 'exit 127'] }, /exited with a non-zero status/],
        [{ path: '/nonexistent/hook' }, /ENOENT|no such file/i],
        [{ path: '/etc/passwd' }, /EACCES|permission denied/i],
      ];
      for (const [hook, why] of cases) {
        const id = uniqueId('ctrhook');
        const b = shBundle(sb, id, 'echo ran', (s) => {
          s.hooks = { createContainer: [hook] };
        });
        const r = tcrToFile(sb, ['create', '--bundle', b, id]);
        expect(r.status, hook.path).toBe(1);
        expect(r.stdout, hook.path).toMatch(why);
        if (hook.path === '/bin/sh') expect(r.stdout).not.toMatch(/ENOENT|no such file/i);
        expectNothingLeft(sb, id);
      }
    });

    it('a state too large for container-side hooks is refused by name; without them any size runs', () => {
      const annotations = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`org.test.a${i}`, 'x'.repeat(90)]));
      // ~100 KB of state and a createContainer hook: it would get the JSON cut short
      const id = uniqueId('bigstate');
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.annotations = annotations(1000);
        s.hooks = { createContainer: [{ path: '/bin/true' }] };
      });
      const r = tcrToFile(sb, ['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(
        /the container's state is \d+ bytes of JSON .*more than the 65535 its createContainer and startContainer hooks can be given/,
      );
      expectNothingLeft(sb, id);
      // ~400 KB of state, no container-side hook: the init is not sent it (this hung before)
      const id2 = uniqueId('bigstate');
      const b2 = shBundle(sb, id2, 'echo ran', (s) => {
        s.annotations = annotations(4000);
      });
      const run = sb.tcr(['run', '--bundle', b2, id2], { timeout: 30_000 });
      expect([run.status, run.stdout]).toEqual([0, 'ran\n']);
    });

    /** a host-side hook that leaves `file` behind */
    const markHook = (file: string) => ({ path: '/bin/sh', args: ['sh', '-c', `cat >/dev/null; touch ${file}`] });

    it('a failing poststart hook only warns: the next one still runs, and run succeeds', () => {
      const id = uniqueId('poststart');
      const mark = path.join(sb.dir, `${id}.next-ran`);
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.hooks = { poststart: [{ path: failHook, args: ['fail-hook'] }, markHook(mark)] };
      });
      const r = sb.tcr(['run', '--bundle', b, id]);
      expect(r.stdout).toBe('ran\n');
      expect(r.status).toBe(0);
      expect(r.stderr).toMatch(/warning: poststart hook 0/);
      expect(fs.existsSync(mark)).toBe(true); // the spec: the rest go on as if it had succeeded
      expectNothingLeft(sb, id);
    });

    it('a failing poststop hook only warns: the next one still runs, and delete succeeds', () => {
      const id = uniqueId('poststop');
      const mark = path.join(sb.dir, `${id}.next-ran`);
      const b = shBundle(sb, id, 'sleep 30', (s) => {
        s.hooks = { poststop: [{ path: failHook, args: ['fail-hook'] }, markHook(mark)] };
      });
      expect(tcrToFile(sb, ['create', '--bundle', b, id]).status).toBe(0);
      const d = sb.tcr(['delete', id]);
      expect(d.status).toBe(0);
      expect(d.stderr).toMatch(/warning: poststop hook 0/);
      expect(fs.existsSync(mark)).toBe(true);
      expectNothingLeft(sb, id);
    });
  });

  describe('hook timeouts', () => {
    let slowHook: string;
    beforeAll(() => {
      slowHook = path.join(sb.dir, 'slow-hook.sh');
      fs.writeFileSync(slowHook, '#!/bin/sh\ncat >/dev/null\nexec sleep 20\n', { mode: 0o755 });
    });

    it.each(['prestart', 'createContainer'] as const)(
      'a %s hook that outlives its timeout fails create promptly and leaves nothing',
      (kind) => {
        const id = uniqueId(`slow${kind}`);
        const b = shBundle(sb, id, 'echo ran', (s) => {
          s.hooks = { [kind]: [{ path: slowHook, args: ['slow-hook'], timeout: 1 }] };
        });
        const t0 = Date.now();
        const r = tcrToFile(sb, ['create', '--bundle', b, id]);
        const took = Date.now() - t0;
        expect(r.status).toBe(1);
        expect(r.stdout).toMatch(new RegExp(`${kind} hook 0`));
        expect(r.stdout).toMatch(/timed out|ETIMEDOUT/);
        expect(took).toBeGreaterThanOrEqual(900);
        expect(took).toBeLessThan(8000);
        expectNothingLeft(sb, id);
      },
    );

    it('a hook that finishes within its timeout is fine', () => {
      const id = uniqueId('fast');
      const quick = path.join(sb.dir, 'quick-hook.sh');
      fs.writeFileSync(quick, '#!/bin/sh\ncat >/dev/null\nexit 0\n', { mode: 0o755 });
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.hooks = { prestart: [{ path: quick, timeout: 5 }], createContainer: [{ path: quick, timeout: 5 }] };
      });
      const r = sb.tcr(['run', '--bundle', b, id]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('ran\n');
      expect(r.status).toBe(0);
    });
  });

  // A hook may ignore the state on its stdin. With a state larger than a pipe holds, the
  // runtime is still writing it when such a hook exits: that broken pipe is no failure of
  // the hook's (EPIPE was reported instead of /bin/false's status, and /bin/true failed).
  // Each case runs many times: the race decides only some of the runs.
  describe('hooks that never read their stdin, given a state larger than a pipe holds', () => {
    const ROUNDS = 25;
    const bigAnnotations = () => Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`example.com/note-${i}`, 'x'.repeat(64)]));

    it('/bin/false as prestart fails create with its exit status, naming the hook, every time', () => {
      const id = uniqueId('false');
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.annotations = bigAnnotations();
        s.hooks = { prestart: [{ path: '/bin/false' }] };
      });
      const seen = new Set<string>();
      for (let i = 0; i < ROUNDS; i++) {
        const r = sb.tcr(['create', '--bundle', b, `${id}-${i}`]);
        seen.add(`${r.status} ${r.stderr.trim()}`);
        expectNothingLeft(sb, `${id}-${i}`);
      }
      expect([...seen]).toEqual(['1 tcr: prestart hook 0 (/bin/false): exit status 1']);
    });

    it('/bin/true as every kind of hook lets the container run, every time', () => {
      const t = { path: '/bin/true' };
      // the runtime's own hooks take any state; the init's (createContainer, startContainer) take
      // at most 64 KiB of it (launcher.ts SYNC_ANSWER_MAX), here ~50 KB: still past what a hook reads
      const cases: [NonNullable<Spec['hooks']>, number][] = [
        [{ prestart: [t], createRuntime: [t], poststart: [t], poststop: [t] }, 1200],
        [{ prestart: [t], createContainer: [t], startContainer: [t], poststop: [t] }, 600],
      ];
      for (const [kinds, notes] of cases) {
        const id = uniqueId('true');
        const b = shBundle(sb, id, 'echo ran', (s) => {
          s.annotations = Object.fromEntries(Object.entries(bigAnnotations()).slice(0, notes));
          s.hooks = kinds;
        });
        const seen = new Set<string>();
        for (let i = 0; i < ROUNDS; i++) {
          const r = sb.tcr(['run', '--bundle', b, `${id}-${i}`]);
          seen.add(`${r.status} ${r.stdout.trim()} ${r.stderr.trim()}`);
        }
        expect([...seen]).toEqual(['0 ran ']);
      }
      expectNothingLeft(sb);
    });
  });
});
