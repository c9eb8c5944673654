// What must not cross from the host into a container: file descriptors
// (only 0-2 and --preserve-fds), the host's runtime binaries (CVE-2019-5736),
// mounts through symlinks out of the rootfs (CVE-2021-30465), a working
// directory outside the container (CVE-2024-21626).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CAPABILITIES } from '../../src/linux/capabilities.js';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { createContainer, expectNothingLeft, shBundle, state, tcrToFile, uniqueId } from './lib.js';

const lastCap = Number(fs.readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8'));

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** "fd -> target" pairs from `ls -l /proc/PID/fd` output. */
function fdTable(out: string): Map<number, string> {
  const m = new Map<number, string>();
  for (const line of out.split('\n')) {
    const x = /\s(\d+) -> (.*)$/.exec(line);
    if (x) m.set(Number(x[1]), x[2]);
  }
  return m;
}

/** The fds a container process has, minus the one `ls` opens on /proc/self/fd itself. */
function containerFds(out: string): Map<number, string> {
  const m = fdTable(out);
  for (const [fd, target] of m) if (/^\/proc\/\d+\/fd$/.test(target)) m.delete(fd);
  return m;
}

describe.skipIf(lacks(isRoot))('security (root, real kernel)', () => {
  const sb = new Sandbox('tcr-sec');
  afterAll(() => sb.cleanup());

  describe('file descriptors', () => {
    it('only fds 0, 1 and 2 reach the container, even when tcr itself inherited more', () => {
      const id = uniqueId('fds');
      const b = shBundle(sb, id, 'ls -l /proc/1/fd; true'); // not the last command: sh would exec ls as pid 1
      const extra = [fs.openSync(path.join(sb.dir, 'leak-a'), 'w'), fs.openSync(path.join(sb.dir, 'leak-b'), 'w')];
      try {
        const r = sb.tcr(['run', '--bundle', b, id], { stdio: ['pipe', 'pipe', 'pipe', extra[0], extra[1]] });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect([...containerFds(r.stdout).keys()].sort()).toEqual([0, 1, 2]);
      } finally {
        extra.forEach((fd) => fs.closeSync(fd));
      }
    });

    it('--preserve-fds 2 passes exactly fds 3 and 4, open on what the caller gave', () => {
      const id = uniqueId('pfds');
      const b = shBundle(sb, id, 'ls -l /proc/1/fd; echo to-three >&3; echo to-four >&4');
      const files = [path.join(sb.dir, 'pass-3'), path.join(sb.dir, 'pass-4'), path.join(sb.dir, 'pass-5')];
      const extra = files.map((f) => fs.openSync(f, 'w'));
      try {
        const r = sb.tcr(['run', '--preserve-fds', '2', '--bundle', b, id], { stdio: ['pipe', 'pipe', 'pipe', ...extra] });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const fds = containerFds(r.stdout);
        expect([...fds.keys()].sort()).toEqual([0, 1, 2, 3, 4]);
        expect(fs.readFileSync(files[0], 'utf8')).toBe('to-three\n');
        expect(fs.readFileSync(files[1], 'utf8')).toBe('to-four\n');
        expect(fs.readFileSync(files[2], 'utf8')).toBe('');
      } finally {
        extra.forEach((fd) => fs.closeSync(fd));
      }
    });

    it("--preserve-fds over fds the caller never opened passes none of the runtime's: no lock, cgroup, memfd, socket to the executor, nor the init's own", () => {
      const id = uniqueId('hfds');
      const b = shBundle(sb, id, 'ls -l /proc/1/fd; true');
      // only 0-2 open: fds 3..42 of tcr are whatever it opens itself
      const r = sb.tcr(['run', '--preserve-fds', '40', '--bundle', b, id]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const targets = [...containerFds(r.stdout).values()];
      expect(targets.filter((t) => /tcr-executor|tcr-plan|\/lock$|cgroup|^\/$|\/run\/|\/tcr/.test(t))).toEqual([]);
      // Node's own (its event loop's epoll and eventfds, pipes) may be there, as runc's are in runc's case: nothing of a path
      expect(targets.filter((t) => t.startsWith('/') && !t.startsWith('/dev/'))).toEqual([]);
    });

    it('a created (not yet started) container holds no fd of the runtime but 0-2 and the exec fifo', () => {
      const c = createContainer(sb, 'sleep 30');
      try {
        expect(c.result.status).toBe(0);
        const pid = state(sb, c.id).pid as number;
        const fds = fs
          .readdirSync(`/proc/${pid}/fd`)
          .map(Number)
          .sort((a, b) => a - b);
        const targets = fds.map((fd) => {
          try {
            return fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
          } catch {
            return '?';
          }
        });
        // 0-2 (the output file create was given), the O_PATH exec fifo the runtime handed over and
        // the handle on the container's / (after pivot_root); not the socket to the runtime (closed
        // once create has answered), nothing of node's (epoll, eventfd, modules), nor the executor's
        // plan, pid pipe or cgroup handle
        expect(fds.slice(0, 3)).toEqual([0, 1, 2]);
        expect(targets.slice(0, 3)).toEqual(['/dev/null', c.file, c.file]);
        const rest = targets
          .slice(3)
          .map((t) => (t.startsWith('socket:') ? 'socket' : t))
          .sort();
        expect(rest).toEqual(['/', path.join(sb.root, c.id, 'exec.fifo')].sort());
        // all of them but 0-2 close when the container's program is executed
        const O_CLOEXEC = 0o2000000;
        for (const fd of fds.slice(3)) {
          const flags = parseInt(/^flags:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1], 8);
          expect([fd, flags & O_CLOEXEC]).toEqual([fd, O_CLOEXEC]);
        }
      } finally {
        sb.tcr(['delete', '--force', c.id]);
      }
    });
  });

  describe('CVE-2019-5736: the host runtime binary cannot be overwritten from inside', () => {
    const node = fs.realpathSync(process.execPath);
    const watched = [node, fs.realpathSync(TCR), path.join(REPO, 'dist', 'cli', 'main.js')];

    it("/proc/self/exe and /proc/1/exe cannot be opened for writing by the container's root", () => {
      const before = watched.map(sha256);
      const r = sb.run(
        ['echo x >> /proc/self/exe; echo self=$?', 'echo x >> /proc/1/exe; echo one=$?', 'exec 3>>/proc/1/exe; echo fd3=$?'].join('; '),
        (s) => {
          s.root!.readonly = false;
        },
      );
      expect(r.stdout).toBe('self=1\none=1\n');
      expect(r.status).not.toBe(0); // `exec 3>>` failing ends the shell
      expect(watched.map(sha256)).toEqual(before);
    });

    it('a created init is the sealed executor, not node: a second container in its pid namespace cannot open its exe for writing', () => {
      const before = watched.map(sha256);
      const a = createContainer(sb, 'sleep 30');
      try {
        expect(a.result.status).toBe(0);
        const initPid = state(sb, a.id).pid as number;
        // started from a sealed memfd copy of native/executor.c: nothing of the host's is its exe
        expect(fs.readlinkSync(`/proc/${initPid}/exe`)).toBe('/memfd:tcr-executor (deleted)');
        expect(fs.readFileSync(`/proc/${initPid}/comm`, 'utf8')).toBe('tcr-init\n');
        const id = uniqueId('peer');
        const b = shBundle(
          sb,
          id,
          [
            'echo comm=$(cat /proc/1/comm)',
            'readlink /proc/1/exe >/dev/null 2>&1; echo readlink=$?',
            'head -c 4 /proc/1/exe >/dev/null 2>&1; echo read=$?',
            // opened read-write but never written: if this ever succeeded, the host's node would stay intact
            '(exec 3<>/proc/1/exe) 2>/dev/null; echo write=$?',
            '(exec 3<>/proc/1/root/proc/1/exe) 2>/dev/null; echo viaroot=$?',
          ].join('; '),
          (s) => {
            s.root!.readonly = false;
            s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
              n.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : n,
            );
          },
        );
        const r = sb.tcr(['run', '--bundle', b, id]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        const v = Object.fromEntries(
          r.stdout
            .trim()
            .split('\n')
            .map((l) => l.split('=')),
        );
        expect(v.comm).toBe('tcr-init'); // it is the created init, seen from the peer
        expect(v.readlink).not.toBe('0');
        expect(v.read).not.toBe('0');
        expect(v.write).not.toBe('0');
        expect(v.viaroot).not.toBe('0');
      } finally {
        sb.tcr(['delete', '--force', a.id]);
      }
      expect(watched.map(sha256)).toEqual(before);
    });

    it("even a fully privileged peer (CAP_SYS_PTRACE) cannot open the created init's exe for writing", () => {
      const before = watched.map(sha256);
      const a = createContainer(sb, 'sleep 30');
      try {
        expect(a.result.status).toBe(0);
        const initPid = state(sb, a.id).pid as number;
        const id = uniqueId('privpeer');
        const b = shBundle(sb, id, '(exec 3<>/proc/1/exe); echo rdwr=$?; (exec 3>>/proc/1/exe); echo append=$?', (s) => {
          // every capability this host lets root hold (it lacks CAP_SYS_RESOURCE)
          const caps = CAPABILITIES.filter((c) => c !== 'CAP_SYS_RESOURCE' && CAPABILITIES.indexOf(c) <= lastCap);
          s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
          s.process!.noNewPrivileges = false;
          s.linux!.namespaces = s.linux!.namespaces!.map((n) => (n.type === 'pid' ? { type: 'pid', path: `/proc/${initPid}/ns/pid` } : n));
        });
        const r = sb.tcr(['run', '--bundle', b, id]);
        expect(r.stdout).toBe('rdwr=1\nappend=1\n');
        expect(r.stderr).toMatch(/\/proc\/1\/exe: (Text file busy|Permission denied|Operation not permitted)/);
      } finally {
        sb.tcr(['delete', '--force', a.id]);
      }
      expect(watched.map(sha256)).toEqual(before);
    });

    /**
     * CVE-2019-5736 as published: the container's program is a script whose
     * interpreter is /proc/self/exe. At execve the kernel resolves that link
     * in the executing process. Were that a clone of the runtime, the host's
     * node would run inside the container (given its libraries, copied in
     * here) with its binary one open() away; it is the sealed executor, which
     * refuses to be an interpreter.
     */
    it('a `#!/proc/self/exe` program runs neither node nor anything of the host, in run, start and exec', () => {
      const before = watched.map(sha256);
      const marker = 'HOST-NODE-RAN-IN-THE-CONTAINER';
      const evil = `#!/proc/self/exe\nconsole.log(${JSON.stringify(marker)}, require('fs').readlinkSync('/proc/self/exe'));\n`;
      const withNodeLibs = (rootfs: string) => {
        // the loader and libraries node links against, so that node *could* run in this rootfs
        const ldd = spawnSync('ldd', [node], { encoding: 'utf8' }).stdout;
        for (const lib of ldd.matchAll(/(\/[^\s]+) \(0x/g)) {
          const dest = path.join(rootfs, lib[1]);
          fs.mkdirSync(path.dirname(dest), { recursive: true });
          fs.copyFileSync(fs.realpathSync(lib[1]), dest);
        }
        fs.writeFileSync(path.join(rootfs, 'evil'), evil, { mode: 0o755 });
      };
      const refused = (r: { stdout: string; stderr: string; status: number | null }) => {
        expect(r.stdout).not.toContain(marker);
        expect(r.stderr).toMatch(/refusing to run: this is the container runtime's launch-plan executor/);
        expect(r.status).toBe(126);
      };
      const id = uniqueId('shebang');
      const b = sb.bundle(id, (s) => {
        s.process!.args = ['/evil'];
        s.root!.readonly = false;
      });
      withNodeLibs(path.join(b, 'rootfs'));
      refused(sb.tcr(['run', '--bundle', b, id]));
      // created, then started: the init's output goes to a file
      const out = path.join(sb.dir, `${id}.out`);
      const c = tcrToFile(sb, ['create', '--bundle', b, `${id}-c`], out);
      expect(c.status).toBe(0);
      expect(sb.tcr(['start', `${id}-c`]).status).toBe(0);
      for (let i = 0; i < 100 && state(sb, `${id}-c`).status !== 'stopped'; i++) spawnSync('sleep', ['0.05']);
      expect(fs.readFileSync(out, 'utf8')).not.toContain(marker);
      expect(fs.readFileSync(out, 'utf8')).toMatch(/refusing to run/);
      expect(sb.tcr(['delete', `${id}-c`]).status).toBe(0);
      // exec into a running container
      const running = sb.bundle(`${id}-x`, (s) => {
        s.process!.args = ['sleep', '30'];
        s.root!.readonly = false;
      });
      withNodeLibs(path.join(running, 'rootfs'));
      expect(sb.tcr(['run', '--detach', '--bundle', running, `${id}-x`], { stdio: 'ignore' }).status).toBe(0);
      try {
        refused(sb.tcr(['exec', `${id}-x`, '/evil']));
      } finally {
        sb.tcr(['delete', '--force', `${id}-x`]);
      }
      expect(watched.map(sha256)).toEqual(before);
    });

    it('the executor does nothing when it is not started by tcr: run by hand, with made-up fds, or as an interpreter', () => {
      const exe = path.join(REPO, 'build', 'Release', 'tcr_executor');
      const plan = path.join(sb.dir, 'not-a-plan');
      fs.writeFileSync(plan, 'TCRP but not a plan');
      const attempts = [
        spawnSync(exe, [], { encoding: 'utf8' }),
        spawnSync(exe, ['5', '6', '7', '-1'], { encoding: 'utf8', argv0: 'tcr-executor' }),
        // the right shape, but fd 3 is not a launch plan
        spawnSync(exe, ['4', '4', '3', '-1'], {
          encoding: 'utf8',
          argv0: 'tcr-executor',
          stdio: ['ignore', 'pipe', 'pipe', fs.openSync(plan, 'r'), 'pipe'],
        }),
        // what the kernel passes an interpreter named by `#!/proc/self/exe`
        spawnSync(exe, ['/evil'], { encoding: 'utf8', argv0: '/proc/self/exe' }),
      ];
      for (const r of attempts) {
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(/^tcr-executor: refusing to run: this is the container runtime's launch-plan executor/);
        expect(r.status).toBe(126);
      }
    });

    // vm.memfd_noexec is per pid namespace: set to 2 in one of the test's own, it binds nothing else on the host
    it.skipIf(!fs.existsSync('/proc/sys/vm/memfd_noexec'))(
      'where the host forbids executable memfds (vm.memfd_noexec=2), the executor runs from its file',
      () => {
        const id = uniqueId('noexec');
        const b = shBundle(sb, id, 'echo inside');
        const q = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
        const tcr = `${q(TCR)} --root ${q(sb.root)}`;
        const script = [
          'echo 2 > /proc/sys/vm/memfd_noexec',
          `${tcr} create --bundle ${q(b)} ${id} >/dev/null`,
          `pid=$(${tcr} state ${id} | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')`,
          'echo exe=$(readlink /proc/$pid/exe)',
          `${tcr} start ${id}`,
          `while [ "$(${tcr} state ${id} | grep -c '"stopped"')" = 0 ]; do sleep 0.05; done`,
          `${tcr} delete ${id}`,
          `${tcr} run --bundle ${q(b)} ${id}-run`,
        ].join('\n');
        const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'sh', '-ec', script], { encoding: 'utf8', timeout: 30_000 });
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe(`exe=${path.join(REPO, 'build', 'Release', 'tcr_executor')}\ninside\n`);
        expect(r.status).toBe(0);
        expectNothingLeft(sb, id);
      },
    );

    it('the created init is not dumpable: in a user namespace its /proc files stay owned by host root', () => {
      fs.chmodSync(sb.dir, 0o755); // the mapped root must reach the rootfs
      const a = createContainer(sb, 'sleep 30', (s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      });
      try {
        expect(a.result.stdout).toBe('');
        expect(a.result.status).toBe(0);
        const pid = state(sb, a.id).pid as number;
        const st = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        expect(st).toMatch(/^Uid:\s+100000\s/m); // it runs as the mapped root...
        // ...but a non-dumpable process' /proc entries belong to root, not to its own uid
        expect(fs.statSync(`/proc/${pid}/environ`).uid).toBe(0);
      } finally {
        sb.tcr(['delete', '--force', a.id]);
      }
    });
  });

  describe('CVE-2021-30465: mount targets never follow a symlink out of the rootfs', () => {
    const cases: [string, (outside: string) => string][] = [
      ['an absolute symlink', (outside) => outside],
      ['a relative ../../.. symlink', (outside) => '../'.repeat(20) + outside.replace(/^\//, '')],
    ];

    it.each(cases)('%s to a host directory as the parent of a mount destination', (_what, target) => {
      const outside = path.join(sb.dir, `outside-${uniqueId()}`);
      fs.mkdirSync(outside);
      fs.writeFileSync(path.join(outside, 'host-secret'), 'secret\n');
      const source = path.join(sb.dir, `bind-src-${uniqueId()}`);
      fs.mkdirSync(source);
      const id = uniqueId('evil');
      const b = shBundle(sb, id, 'echo pwned > /evil/x/file; echo pwned > /evil2/file; echo done', (s) => {
        s.root!.readonly = false;
        s.mounts!.push(
          { destination: '/evil/x', type: 'tmpfs', source: 'tmpfs' },
          // the symlink's target does not exist on the host: an escape would create it there
          { destination: '/evil2', type: 'bind', source, options: ['bind'] },
        );
      });
      fs.symlinkSync(target(outside), path.join(b, 'rootfs', 'evil'));
      fs.symlinkSync(target(path.join(outside, 'sub')), path.join(b, 'rootfs', 'evil2'));
      const r = sb.tcr(['run', '--bundle', b, id]);
      // the container may run (its mounts land inside the rootfs) or be refused; the host is untouched
      if (r.status === 0) expect(r.stdout).toBe('done\n');
      else expect(r.stderr).toMatch(/^tcr: /);
      expect(fs.readdirSync(outside)).toEqual(['host-secret']);
      expect(fs.readFileSync(path.join(outside, 'host-secret'), 'utf8')).toBe('secret\n');
      expect(fs.readlinkSync(path.join(b, 'rootfs', 'evil'))).toBe(target(outside));
      expectNothingLeft(sb, id);
    });

    it('a mount destination that is itself a symlink out of the rootfs does not mount on the host path', () => {
      const outside = path.join(sb.dir, `outside-${uniqueId()}`);
      fs.mkdirSync(outside);
      const id = uniqueId('evilproc');
      const b = shBundle(sb, id, 'sleep 30', (s) => {
        s.mounts!.push({ destination: '/evil', type: 'tmpfs', source: 'tmpfs', options: ['size=1k'] });
      });
      fs.symlinkSync(outside, path.join(b, 'rootfs', 'evil'));
      const c = tcrToFile(sb, ['run', '--detach', '--bundle', b, id]);
      try {
        if (c.status === 0) {
          const pid = state(sb, id).pid as number;
          // in the container's own mount table, no mount sits on the host path of `outside`
          const mi = fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8');
          expect(mi).not.toContain(` ${outside} `);
        }
        expect(fs.readdirSync(outside)).toEqual([]);
      } finally {
        sb.tcr(['delete', '--force', id]);
      }
      expectNothingLeft(sb, id);
    });
  });

  describe('the working directory is inside the container', () => {
    it("pwd and /proc/self/cwd show the container's directory, never a host one", () => {
      const r = sb.run('pwd; ls /proc/self/cwd/; readlink /proc/self/cwd', (s) => {
        s.process!.cwd = '/usr';
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toBe('/usr');
      expect(lines.slice(1, -1)).toEqual(['bin', 'sbin']);
      expect(lines.at(-1)).toBe('/usr');
    });

    it('cwd / lists the rootfs, not the host', () => {
      const id = uniqueId('cwdroot');
      const b = shBundle(sb, id, 'ls /proc/self/cwd/');
      const r = sb.tcr(['run', '--bundle', b, id]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split('\n')).toEqual(fs.readdirSync(path.join(b, 'rootfs')).sort());
    });

    it.each([3, 4, 5, 6])('CVE-2024-21626: cwd /proc/self/fd/%i never lands on a host directory', (n) => {
      const id = uniqueId('cwdfd');
      const b = shBundle(sb, id, 'ls /proc/self/cwd/', (s) => {
        s.process!.cwd = `/proc/self/fd/${n}`;
      });
      const r = sb.tcr(['run', '--bundle', b, id]);
      if (r.status === 0) {
        const names = r.stdout.trim().split('\n');
        for (const host of ['work', 'boot', 'node_modules', 'dist', 'state']) expect(names).not.toContain(host);
      } else {
        expect(r.stderr).toMatch(/^tcr: .*\/proc\/self\/fd/);
      }
      expectNothingLeft(sb, id);
    });
  });
});
