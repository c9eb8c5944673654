// Bad input: every case exits 1 with a message naming the field or file that
// is wrong, and leaves nothing behind (no state directory, no mount under the
// sandbox, no process whose root is under it).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Spec } from '../../src/spec/types.js';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { alive, expectNothingLeft, runDetached, shBundle, state, uniqueId, waitFor } from './lib.js';

describe.skipIf(lacks(isRoot))('errors (root, real kernel)', () => {
  const sb = new Sandbox('tcr-err');
  afterAll(() => sb.cleanup());

  /** create (and run, when asked) of a bundle edited by `edit` fail as expected. */
  function expectRefused(edit: (s: Spec) => void, message: RegExp, prepare: (bundle: string) => void = () => {}, cmds = ['create']): void {
    for (const cmd of cmds) {
      const id = uniqueId(cmd);
      const b = shBundle(sb, id, 'echo ran', edit);
      prepare(b);
      const r = sb.tcr([cmd, '--bundle', b, id]);
      expect(r.status, `${cmd}: ${r.stderr}`).toBe(1);
      expect(r.stdout, cmd).toBe('');
      expect(r.stderr, cmd).toMatch(/^tcr: /);
      expect(r.stderr, cmd).toMatch(message);
      expect(r.stderr.trim().split('\n'), cmd).toHaveLength(1); // one clear line, no stack trace
      expectNothingLeft(sb, id);
    }
  }

  it('a clone of the init the kernel refuses is named as the clone, with the namespace limit to look at', () => {
    // a user namespace of the test's own, where no further one may be made: the init's CLONE_NEWUSER gets ENOSPC
    const id = uniqueId('clone');
    const b = shBundle(sb, id, 'echo ran', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
    });
    const r = spawnSync(
      'unshare',
      [
        '--user',
        '--map-root-user',
        'sh',
        '-c',
        'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"',
        'sh',
        TCR,
        '--root',
        sb.root,
        'run',
        '--bundle',
        b,
        id,
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(
      /^tcr: clone of the init with \S*CLONE_NEWUSER\S*: ENOSPC \(no space left on device\): a namespace limit is reached \(\/proc\/sys\/user\/max_\*_namespaces\)\n$/,
    );
    expectNothingLeft(sb, id);
  });

  it('malformed JSON in config.json', () => {
    expectRefused(
      () => {},
      /config\.json: not valid JSON/,
      (b) => fs.writeFileSync(path.join(b, 'config.json'), '{"ociVersion": "1.0.2", "process": {'),
      ['create', 'run'],
    );
  });

  it('a bundle without config.json', () => {
    expectRefused(
      () => {},
      /config\.json: cannot read: ENOENT/,
      (b) => fs.rmSync(path.join(b, 'config.json')),
    );
  });

  it('a config.json that is not an object', () => {
    expectRefused(
      () => {},
      /config\.json: \(root\): must be a JSON object/,
      (b) => fs.writeFileSync(path.join(b, 'config.json'), '[1, 2]'),
    );
  });

  it('an unknown namespace type', () => {
    expectRefused(
      (s) => s.linux!.namespaces!.push({ type: 'bogus' as never }),
      /linux\.namespaces\[5\]\.type: unknown namespace type "bogus"/,
    );
  });

  it('a namespace listed twice', () => {
    expectRefused((s) => s.linux!.namespaces!.push({ type: 'pid' }), /linux\.namespaces\[5\]\.type: namespace pid is listed twice/);
  });

  it('a missing rootfs', () => {
    expectRefused(
      (s) => (s.root!.path = 'no-such-rootfs'),
      /root\.path: rootfs .*no-such-rootfs does not exist/,
      () => {},
      ['create', 'run'],
    );
  });

  it('a rootfs that is a file', () => {
    expectRefused((s) => (s.root!.path = 'config.json'), /root\.path: rootfs .*config\.json is not a directory/);
  });

  it('a relative mount destination', () => {
    expectRefused(
      (s) => s.mounts!.push({ destination: 'relative/dir', type: 'tmpfs', source: 'tmpfs' }),
      /mounts\[7\]\.destination: must be an absolute path, got "relative\/dir"/,
    );
  });

  it('a bind mount whose source does not exist', () => {
    expectRefused(
      (s) => s.mounts!.push({ destination: '/mnt', type: 'bind', source: '/no/such/source', options: ['bind'] }),
      /mounts\[7\]\.source: bind source \/no\/such\/source does not exist/,
    );
  });

  it('a mount the kernel refuses (unknown filesystem type) names the step, and nothing stays mounted', () => {
    expectRefused(
      (s) => s.mounts!.push({ destination: '/weird', type: 'nosuchfs', source: 'none' }),
      /mount nosuchfs on \/weird.*ENODEV/,
      () => {},
      ['create', 'run'],
    );
  });

  it('missing or empty process.args', () => {
    expectRefused((s) => delete s.process!.args, /process\.args: must be a non-empty array/);
    expectRefused((s) => (s.process!.args = []), /process\.args: must be a non-empty array/);
  });

  it('a missing process', () => {
    expectRefused((s) => delete s.process, /config\.json: process: is required/);
  });

  it('a relative cwd', () => {
    expectRefused((s) => (s.process!.cwd = 'here'), /process\.cwd: must be an absolute path/);
  });

  it('an unknown capability', () => {
    expectRefused(
      (s) => s.process!.capabilities!.bounding!.push('CAP_FLY'),
      /process\.capabilities\.bounding\[3\]: unknown capability "CAP_FLY"/,
    );
  });

  it('an unknown rlimit', () => {
    expectRefused(
      (s) => s.process!.rlimits!.push({ type: 'RLIMIT_WISHES', soft: 1, hard: 1 }),
      /process\.rlimits\[1\]\.type: unknown rlimit "RLIMIT_WISHES"/,
    );
  });

  // what would fail only after `start` (where nobody hears it) fails create instead, as in runc
  const hardNofile = Number(fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+\d+\s+(\d+)/m)?.[1]);
  const canRaiseLimits = /^CapEff:\s*([0-9a-f]+)$/m
    .exec(fs.readFileSync('/proc/self/status', 'utf8'))!
    .slice(1)
    .some((h) => (BigInt(`0x${h}`) >> 24n) & 1n);
  it.skipIf(canRaiseLimits || !hardNofile)('an rlimit above the hard limit, without CAP_SYS_RESOURCE: create fails naming the step', () => {
    expectRefused(
      (s) => (s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: hardNofile + 1, hard: hardNofile + 1 }]),
      new RegExp(`setrlimit RLIMIT_NOFILE soft=${hardNofile + 1} hard=${hardNofile + 1}: EPERM`),
      () => {},
      ['create', 'run'],
    );
  });

  it.skipIf(canRaiseLimits)("a capability outside the runtime's bounding set: create fails before anything is made", () => {
    expectRefused(
      (s) => s.process!.capabilities!.permitted!.push('CAP_SYS_RESOURCE'),
      /process\.capabilities\.permitted: CAP_SYS_RESOURCE not in the runtime's own bounding set/,
      () => {},
      ['create', 'run'],
    );
  });

  it("what fails after start (a startContainer hook) is told on the container's stderr, with the step", async () => {
    const id = uniqueId('late');
    const b = shBundle(sb, id, 'echo ran', (s) => {
      s.hooks = { startContainer: [{ path: '/bin/false' }] };
    });
    const out = path.join(sb.dir, `${id}.out`);
    const fd = fs.openSync(out, 'w');
    try {
      expect(sb.tcr(['create', '--bundle', b, id], { stdio: ['ignore', fd, fd] }).status).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    expect(sb.tcr(['start', id]).status).toBe(0);
    // the init goes on once start has exited
    await waitFor(() => fs.readFileSync(out, 'utf8') !== '', 10_000, "the init's message");
    expect(fs.readFileSync(out, 'utf8')).toMatch(
      /^tcr: the container's init failed after create had returned, at step \d+ of its launch plan \(`tcr create --dry-run` lists them\): /,
    );
    expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
    expectNothingLeft(sb, id);
  });

  it('an init whose program is gone by start exits 127, one whose startContainer hook fails 126 (the statuses the plan gives it)', () => {
    // python3 is the subreaper that inherits the orphaned init (as conmon or the shim would) and reads its status
    const statusAfterStart = (id: string, bundle: string, beforeStart: string): string => {
      const script = [
        'import ctypes, os, subprocess, sys',
        'ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER',
        `tcr = [${JSON.stringify(TCR)}, '--root', ${JSON.stringify(sb.root)}]`,
        `out = open(${JSON.stringify(path.join(sb.dir, `${id}.out`))}, 'w')`,
        `assert subprocess.run(tcr + ['create', '--bundle', ${JSON.stringify(bundle)}, ${JSON.stringify(id)}], stdout=out, stderr=out).returncode == 0`,
        beforeStart,
        `assert subprocess.run(tcr + ['start', ${JSON.stringify(id)}]).returncode == 0`,
        'pid, status = os.wait()',
        'print(os.waitstatus_to_exitcode(status))',
      ].join('\n');
      const r = spawnSync('python3', ['-c', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      return r.stdout.trim();
    };
    const gone = uniqueId('gone');
    const goneBundle = sb.bundle(gone, (s) => (s.process!.args = ['/bin/prog']));
    fs.copyFileSync(path.join(goneBundle, 'rootfs', 'bin', 'busybox'), path.join(goneBundle, 'rootfs', 'bin', 'prog'));
    fs.chmodSync(path.join(goneBundle, 'rootfs', 'bin', 'prog'), 0o755);
    expect(statusAfterStart(gone, goneBundle, `os.unlink(${JSON.stringify(path.join(goneBundle, 'rootfs', 'bin', 'prog'))})`)).toBe('127');
    const hook = uniqueId('hookfail');
    const hookBundle = shBundle(sb, hook, 'echo ran', (s) => (s.hooks = { startContainer: [{ path: '/bin/false' }] }));
    expect(statusAfterStart(hook, hookBundle, 'pass')).toBe('126');
    for (const id of [gone, hook]) {
      expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
      expectNothingLeft(sb, id);
    }
  });

  it('uid mappings without a user namespace', () => {
    expectRefused(
      (s) => (s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }]),
      /linux\.uidMappings: mappings are given but there is no user namespace/,
    );
  });

  it('a hostname without a uts namespace', () => {
    expectRefused(
      (s) => (s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'uts')),
      /hostname: cannot be set without a uts namespace/,
    );
  });

  it('a relative hook path', () => {
    expectRefused((s) => (s.hooks = { prestart: [{ path: 'hook.sh' }] }), /hooks\.prestart\[0\]\.path: must be an absolute path/);
  });

  it('a missing bundle directory', () => {
    const id = uniqueId('nobundle');
    const missing = path.join(sb.dir, 'no-such-bundle');
    const r = sb.tcr(['create', '--bundle', missing, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(`tcr: bundle ${missing} does not exist\n`);
    expectNothingLeft(sb, id);
  });

  it.each(['../x', 'a/b', '..', 'with space'])('an invalid id %j', (id) => {
    const b = shBundle(sb, `badid-${uniqueId()}`, 'echo ran');
    const cmds =
      id === '../x'
        ? [
            ['create', '--bundle', b, id],
            ['run', '--bundle', b, id],
            ['state', id],
            ['delete', id],
            ['kill', id],
          ]
        : [['create', '--bundle', b, id]];
    for (const cmd of cmds) {
      const r = sb.tcr(cmd);
      expect(r.status, cmd.join(' ')).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr, cmd.join(' ')).toContain(`invalid container id ${JSON.stringify(id)}`);
    }
    // nothing was made next to (or under) the state root
    expect(fs.existsSync(path.join(sb.dir, 'x'))).toBe(false);
    expect(fs.existsSync(path.join(sb.root, 'a'))).toBe(false);
    expectNothingLeft(sb);
  });

  it('an empty id', () => {
    const b = shBundle(sb, `emptyid-${uniqueId()}`, 'echo ran');
    const r = sb.tcr(['create', '--bundle', b, '']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('container id cannot be empty');
    expectNothingLeft(sb);
  });

  it('a duplicate id fails and leaves the existing container untouched', () => {
    const c = runDetached(sb, 'sleep 30');
    try {
      const b = shBundle(sb, `${c.id}-dup`, 'echo ran');
      const r = sb.tcr(['create', '--bundle', b, c.id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`tcr: container with id ${c.id} already exists\n`);
      expect(state(sb, c.id)).toMatchObject({ status: 'running', pid: c.pid, bundle: c.bundle });
      expect(alive(c.pid)).toBe(true);
    } finally {
      expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    }
  });

  it('a bad signal for kill fails and the container keeps running', () => {
    const c = runDetached(sb, 'sleep 30');
    try {
      for (const sig of ['NOPE', '65', 'KILLL']) {
        const r = sb.tcr(['kill', c.id, sig]);
        expect(r.status, sig).toBe(1);
        expect(r.stderr, sig).toMatch(/invalid signal/);
      }
      expect(state(sb, c.id).status).toBe('running');
      expect(alive(c.pid)).toBe(true);
    } finally {
      expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    }
  });

  it('--preserve-fds that is not a count', () => {
    const id = uniqueId('pfds');
    const b = shBundle(sb, id, 'echo ran');
    const r = sb.tcr(['create', '--preserve-fds', 'abc', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--preserve-fds: "abc"/);
    expectNothingLeft(sb, id);
  });

  it('an unknown command or flag', () => {
    const a = sb.tcr(['frobnicate']);
    expect(a).toMatchObject({ status: 1, stderr: 'tcr: unknown command "frobnicate"; tcr --help lists the commands\n' });
    // docker's top is a command of its own now, not a hint to tcr's stop: a missing container is docker's 125
    expect(sb.tcr(['top', 'x'])).toMatchObject({ status: 125, stderr: 'tcr: No such container: x\n' });
    expect(sb.tcr(['strat', 'x']).stderr).toMatch(/^tcr: unknown command "strat" \(did you mean start\?\)/);
    // runc's commands keep runc's 1; a hint only to a close flag of that command
    const b = sb.tcr(['create', '--no-such-flag', 'x']);
    expect(b).toMatchObject({ status: 1, stderr: "tcr: unknown option '--no-such-flag'\nSee 'tcr create --help'.\n" });
    expect(sb.tcr(['create', '--frce', 'x']).stderr).not.toMatch(/did you mean/); // not --trace
    expect(sb.tcr(['delete', '--frce', 'x'])).toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^tcr: unknown option '--frce' \(did you mean --force\?\)/),
    });
    // docker's commands exit 125 for tcr's own failures
    expect(sb.tcr(['rm', '--frce', 'x'])).toMatchObject({
      status: 125,
      stderr: expect.stringMatching(/\(did you mean --force\?\)\nSee 'tcr rm --help'/),
    });
    expect(sb.tcr(['run', '--no-such-flag', 'busybox']).status).toBe(125);
    expect(sb.tcr(['run', '--bundle', '/nonexistent', '--no-such-flag', 'x']).status).toBe(1);
    expectNothingLeft(sb);
  });
});

describe.skipIf(lacks(isRoot))('a user other than root', () => {
  // spawnSync's uid/gid: the real tcr, as an ordinary account would start it
  const asNobody = (args: string[]) => spawnSync(TCR, args, { encoding: 'utf8', uid: 65534, gid: 65534, cwd: '/' });

  it("is told the commands it does not have need root, with docker's exit code", () => {
    const cases = [
      [['network', 'ls'], 125],
      [['push', 'x'], 125],
      [['save', 'x'], 125],
    ] as const;
    for (const [args, code] of cases) {
      const r = asNobody([...args]);
      expect(r.status, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(
        new RegExp(
          `^tcr: tcr ${args[0]} needs root \\(this is uid 65534; as an ordinary user tcr has the OCI runtime's bundle commands.*Run it as root`,
        ),
      );
      expect(r.stderr, args.join(' ')).not.toMatch(/EACCES/);
    }
  });

  it('is told where its image store would be when it cannot be made', () => {
    const r = spawnSync(TCR, ['pull', 'busybox'], {
      encoding: 'utf8',
      uid: 65534,
      gid: 65534,
      cwd: '/',
      env: { PATH: process.env.PATH, HOME: '/nonexistent' },
    });
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^tcr: cannot make the image store \/nonexistent\/.local\/share\/tcr \(EACCES\): .*XDG_DATA_HOME/);
  });

  it('can still run what needs no privilege', () => {
    expect(asNobody(['spec', '--help']).status).toBe(0);
    expect(JSON.parse(asNobody(['features']).stdout).ociVersionMin).toBeDefined();
  });

  it('gets "run this as root" from the README commands', () => {
    const r = spawnSync('bash', [path.join(REPO, 'scripts', 'setup.sh')], { encoding: 'utf8', uid: 65534, gid: 65534 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/run this as root/);
  });
});

describe.skipIf(lacks(isRoot))('flags Node itself knows', () => {
  it("--env-file reaches tcr, not Node's own option parser (which exited 9: `node: F: not found`)", () => {
    const r = spawnSync(TCR, ['run', '--rm', '--env-file', '/no/such/env-file', 'busybox', 'true'], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/^tcr: --env-file \/no\/such\/env-file: /);
    expect(r.status).toBe(125);
  });
});
