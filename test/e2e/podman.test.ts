// podman (Debian's podman + conmon) drives tcr as its OCI runtime, and cannot
// tell it from runc: every test below runs twice, once with tcr and once
// with runc as `--runtime` — the runc lane is the control, proving that the
// test asks only for what runc itself does.
//
// Everything podman keeps is private to a temp dir: storage (--root),
// run root, tmpdir, network config, a containers.conf with file locks (no
// /dev/shm/libpod_lock), the runtime's own --root (through a wrapper named
// like the runtime, which also records each call: `podman container
// cleanup`, run by conmon, does not pass podman's --runtime-flag on), and a
// cgroup parent of its own. --network none: networking is not the point here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, isRoot, lacks } from '../helpers.js';
import {
  LANES,
  RUNC,
  calls,
  commandOf,
  removeCgroup,
  removeNew,
  run,
  snapshotPaths,
  unmountUnder,
  waitFor,
  which,
  withTty,
  writeRuntimeWrapper,
  type Result,
} from './lib.js';

const PODMAN = which('podman');
const available = isRoot && !!PODMAN && !!which('conmon') && !!RUNC && !!which('script');
const IMAGE = 'localhost/busybox:test';
// the sandbox here cannot raise rlimits, and podman's defaults would
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
// podman creates these on the host whatever its flags say (the netavark run
// dir and containers/image's blob-info cache); removed after if new
const HOST_PATHS = ['/run/containers', '/run/containers/networks', '/var/lib/containers', '/var/lib/containers/cache'];

/** Container ids in a runtime's --root. */
function containersIn(root: string): string[] {
  return fs.existsSync(root) ? fs.readdirSync(root).filter((n) => !n.startsWith('.')) : [];
}

for (const lane of LANES) {
  describe.skipIf(lacks(available))(`podman --runtime ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
    let dir = '';
    let log = '';
    let global: string[] = [];
    let env: NodeJS.ProcessEnv = {};
    let cgroupParent = '';
    let before = new Set<string>();

    const podman = (args: string[], input?: string): Result => run(PODMAN!, [...global, ...args], { env, input });
    /** `podman run` flags every container gets here */
    const runFlags = (): string[] => ['--network', 'none', ...ULIMITS, '--cgroup-parent', cgroupParent];
    const inspect = (name: string, format: string): string => podman(['inspect', '-f', format, name]).stdout.trim();
    const sleeper = (name: string, script: string, extra: string[] = []): void => {
      const r = podman(['run', '-d', '--name', name, ...runFlags(), ...extra, IMAGE, 'sh', '-c', script]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    };
    // a shell that ends at once on TERM (pid 1 ignores signals it has no handler for)
    const LOOP = 'trap "exit 0" TERM; while :; do sleep 0.1; done';

    beforeAll(() => {
      before = snapshotPaths(HOST_PATHS);
      dir = fs.mkdtempSync(path.join(os.tmpdir(), `tcr-e2e-podman-${lane.name}-`));
      log = path.join(dir, 'runtime-calls.log');
      cgroupParent = `/${path.basename(dir)}`;
      const wrapper = writeRuntimeWrapper(path.join(dir, 'bin'), lane, log, ['--root', path.join(dir, 'runtime-root')]);
      // runtime_supports_json: podman then passes --log FILE --log-format=json
      // and reads the runtime's errors from that file, as it does for runc
      fs.writeFileSync(
        path.join(dir, 'containers.conf'),
        ['[engine]', 'lock_type = "file"', 'runtime_supports_json = ["crun", "runc", "tcr"]', ''].join('\n'),
      );
      env = { ...process.env, CONTAINERS_CONF: path.join(dir, 'containers.conf') };
      global = [
        '--root',
        path.join(dir, 'storage'),
        '--runroot',
        path.join(dir, 'run'),
        '--tmpdir',
        path.join(dir, 'tmp'),
        '--network-config-dir',
        path.join(dir, 'net'),
        '--cgroup-manager',
        'cgroupfs',
        '--events-backend',
        'none',
        '--runtime',
        wrapper,
      ];
      // the image: the demo busybox rootfs, imported locally (no registry)
      const tarball = path.join(dir, 'rootfs.tar');
      const r = run('tar', ['-C', path.join(DEMO, 'rootfs'), '--numeric-owner', '-cf', tarball, '.']);
      expect(r.status).toBe(0);
      const imp = podman(['import', '-q', tarball, IMAGE]);
      expect(imp.stderr).toBe('');
      expect(imp.status).toBe(0);
    }, 60_000);

    afterAll(() => {
      if (!dir) return;
      try {
        podman(['rm', '-a', '-f', '-t', '0']);
        podman(['system', 'reset', '-f']);
        // whatever the runtime still records (a test that failed half-way): deleted by the lane's runtime itself
        const root = path.join(dir, 'runtime-root');
        for (const id of containersIn(root)) run(lane.bin, ['--root', root, 'delete', '--force', id]);
      } finally {
        unmountUnder(dir);
        removeCgroup(cgroupParent);
        fs.rmSync(dir, { recursive: true, force: true });
        removeNew(
          HOST_PATHS.filter((p) => p.startsWith('/run/')),
          before,
        );
        removeNew(['/var/lib/containers'], before, true);
      }
    }, 60_000);

    it('run --rm: output, stderr and the exit code', () => {
      const r = podman(['run', '--rm', ...runFlags(), IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
      expect(r.stdout).toBe('out\n');
      expect(r.stderr).toBe('err\n');
      expect(r.status).toBe(3);
      const ok = podman(['run', '--rm', ...runFlags(), IMAGE, 'true']);
      expect(ok.status).toBe(0);
    });

    it('a command that does not exist: 127 and the reason, read from the runtime', () => {
      const r = podman(['run', '--rm', ...runFlags(), IMAGE, '/nonexistent']);
      expect(r.status).toBe(127);
      expect(r.stderr).toContain('/nonexistent');
    });

    it('stdin with -i', () => {
      const r = podman(['run', '--rm', '-i', ...runFlags(), IMAGE, 'sh', '-c', 'cat; echo done'], 'hello from stdin\n');
      expect(r.stdout).toBe('hello from stdin\ndone\n');
      expect(r.status).toBe(0);
    });

    it('-e, -w, -u and --hostname', () => {
      const r = podman([
        'run',
        '--rm',
        ...runFlags(),
        '-e',
        'FOO=bar',
        '-w',
        '/tmp',
        '-u',
        '1000:1000',
        '--hostname',
        'e2e-host',
        IMAGE,
        'sh',
        '-c',
        'echo "$FOO $(pwd) $(id -u):$(id -g) $(hostname)"',
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('bar /tmp 1000:1000 e2e-host\n');
    });

    it('--read-only: / refuses writes, the tmpfs podman puts on /tmp takes them', () => {
      const r = podman([
        'run',
        '--rm',
        ...runFlags(),
        '--read-only',
        IMAGE,
        'sh',
        '-c',
        'touch /x 2>/dev/null && echo root-writable; echo t > /tmp/x && cat /tmp/x; grep " /tmp " /proc/self/mountinfo | cut -d" " -f9',
      ]);
      expect(r.stdout).toBe('t\ntmpfs\n');
      expect(r.status).toBe(0);
    });

    it('--tmpfs: a tmpfs that starts with a copy of the directory it covers (tmpcopyup)', () => {
      const r = podman([
        'run',
        '--rm',
        ...runFlags(),
        '--tmpfs',
        '/etc',
        IMAGE,
        'sh',
        '-c',
        'grep "^root:" /etc/passwd | cut -d: -f1; grep " /etc " /proc/self/mountinfo | cut -d" " -f9; echo n > /etc/new && echo writable',
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('root\ntmpfs\nwritable\n');
    });

    it("-m and --pids-limit reach the container's cgroup", () => {
      const r = podman([
        'run',
        '--rm',
        ...runFlags(),
        '-m',
        '64m',
        '--pids-limit',
        '50',
        IMAGE,
        'sh',
        '-c',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max',
      ]);
      expect(r.stdout).toBe('67108864\n50\n');
      // and the limit holds: an inner shell forks sleepers until the kernel
      // refuses (then exits); the rest is shell builtins, which need no fork
      const f = podman([
        'run',
        '--rm',
        ...runFlags(),
        '--pids-limit',
        '20',
        IMAGE,
        'sh',
        '-c',
        'sh -c "for i in \\$(seq 1 40); do sleep 5 & done" 2>/dev/null; read n < /sys/fs/cgroup/pids/pids.current; set -- /proc/[0-9]*; echo $n $#; kill -9 -1',
      ]);
      const [current, visible] = f.stdout.trim().split(' ').map(Number);
      expect(current).toBeGreaterThanOrEqual(15);
      expect(current).toBeLessThanOrEqual(20);
      expect(visible).toBe(current);
    });

    it('-t: the process gets a terminal (through conmon and --console-socket)', () => {
      const r = withTty(
        [PODMAN!, ...global, 'run', '--rm', '-t', ...runFlags(), IMAGE, 'sh', '-c', 'tty; test -t 0 && echo isatty; echo "$TERM"'],
        env,
      );
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
      expect(r.stdout).toMatch(/isatty\r*\n/);
      expect(r.stdout).toMatch(/xterm\r*\n/);
    });

    it('detached run, podman exec (exit code, -e -w -u, -t), top, stop, rm', () => {
      sleeper('d1', LOOP);
      expect(inspect('d1', '{{.State.Status}}')).toBe('running');
      const e = podman(['exec', 'd1', 'sh', '-c', 'echo in-exec; exit 7']);
      expect(e.stdout).toBe('in-exec\n');
      expect(e.status).toBe(7);
      const u = podman(['exec', '-e', 'A=1', '-w', '/tmp', '-u', '1000', 'd1', 'sh', '-c', 'echo "$A $(pwd) $(id -u)"']);
      expect(u.stdout).toBe('1 /tmp 1000\n');
      const t = withTty([PODMAN!, ...global, 'exec', '-t', 'd1', 'sh', '-c', 'tty; test -t 0 && echo isatty'], env);
      expect(t.stdout).toMatch(/\/dev\/pts\/\d+\r*\n/);
      expect(t.stdout).toMatch(/isatty\r*\n/);
      const top = podman(['top', 'd1', 'pid', 'args']);
      expect(top.status).toBe(0);
      expect(top.stdout).toMatch(/^\s*1\s+sh -c trap/m);
      const stop = podman(['stop', '-t', '10', 'd1']);
      expect(stop.status).toBe(0);
      expect(inspect('d1', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
      expect(podman(['rm', 'd1']).status).toBe(0);
      expect(podman(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain('d1');
    });

    it('pause and unpause', () => {
      sleeper('p1', LOOP);
      expect(podman(['pause', 'p1']).status).toBe(0);
      expect(inspect('p1', '{{.State.Status}}')).toBe('paused');
      expect(podman(['unpause', 'p1']).status).toBe(0);
      expect(inspect('p1', '{{.State.Status}}')).toBe('running');
      expect(podman(['exec', 'p1', 'echo', 'alive']).stdout).toBe('alive\n');
      expect(podman(['rm', '-f', '-t', '0', 'p1']).status).toBe(0);
    });

    it('kill -s delivers the signal; the exit code comes back through conmon', () => {
      sleeper('k1', 'trap "exit 42" USR1; while :; do sleep 0.1; done');
      expect(podman(['kill', '-s', 'USR1', 'k1']).status).toBe(0);
      const w = podman(['wait', 'k1']);
      expect(w.stdout.trim()).toBe('42');
      sleeper('k2', 'while :; do sleep 0.1; done');
      expect(podman(['kill', '-s', 'KILL', 'k2']).status).toBe(0);
      expect(podman(['wait', 'k2']).stdout.trim()).toBe('137');
      expect(podman(['rm', 'k1', 'k2']).status).toBe(0);
    });

    it(`podman drove ${lane.name} through create, start, exec, pause, resume, kill and delete`, () => {
      const seen = calls(log);
      const cmds = new Set(seen.map(commandOf));
      for (const c of ['create', 'start', 'exec', 'pause', 'resume', 'kill', 'delete']) expect(cmds).toContain(c);
      // runtime_supports_json: the runtime's errors went through its JSON log file
      expect(seen.some((c) => /--log-format=json --log \S+ create /.test(c))).toBe(true);
      expect(seen.some((c) => commandOf(c) === 'exec' && / --detach /.test(c))).toBe(true);
      // nothing of the containers is left running
      expect(
        waitFor(
          () =>
            containersIn(path.join(dir, 'runtime-root')).every((id) => {
              const s = run(lane.bin, ['--root', path.join(dir, 'runtime-root'), 'state', id]);
              return s.status !== 0 || JSON.parse(s.stdout).status === 'stopped';
            }),
          5_000,
        ),
      ).toBe(true);
    });
  });
}
