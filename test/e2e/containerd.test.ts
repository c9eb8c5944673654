// containerd (Debian's containerd, its runc shim containerd-shim-runc-v2 and
// ctr) drives tcr through `ctr run --runc-binary`, the same road Kubernetes
// takes through a RuntimeClass whose handler names tcr as BinaryName. Every
// test runs twice: with tcr, and with runc as the control lane, proving the
// test asks only for what runc itself does.
//
// The test starts its own containerd: root, state, temp dir, gRPC and ttrpc
// sockets all in a temp dir, the CRI plugin and the snapshotters it cannot
// use disabled; it is stopped by its pid afterwards. Each lane has its own
// namespace (and so its own cgroup parent, /<namespace>), its own runtime
// --root (--runc-root), and IO FIFOs in the temp dir (--fifo-dir).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, isRoot, lacks } from '../helpers.js';
import {
  LANES,
  RUNC,
  buildOciArchive,
  calls,
  commandOf,
  containerdConfig,
  removeCgroup,
  removeNew,
  run,
  snapshotPaths,
  startContainerd,
  stopContainerd,
  unmountUnder,
  waitFor,
  which,
  withTty,
  writeRuntimeWrapper,
  type Containerd,
  type Result,
} from './lib.js';

const CONTAINERD = which('containerd');
const CTR = which('ctr');
const available = isRoot && !!CONTAINERD && !!CTR && !!which('containerd-shim-runc-v2') && !!RUNC && !!which('script');
const IMAGE = 'localhost/busybox:test';
// containerd 1.6's shim puts its socket under /run/containerd/s whatever the
// config says; removed after if the test made it
const HOST_PATHS = ['/run/containerd', '/run/containerd/s', '/run/containerd/fifo'];

let dir = '';
let address = '';
let daemon: Containerd | undefined;
let before = new Set<string>();

const ctrAt =
  (ns: string) =>
  (args: string[]): Result =>
    run(CTR!, ['--address', address, '-n', ns, ...args]);

describe.skipIf(lacks(available))("containerd (private daemon) with tcr and runc as the runc shim's binary", () => {
  beforeAll(async () => {
    before = snapshotPaths(HOST_PATHS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-e2e-containerd-'));
    address = path.join(dir, 'containerd.sock');
    daemon = startContainerd(dir, address, containerdConfig(dir, address));
    buildOciArchive(dir, path.join(DEMO, 'rootfs'), IMAGE, path.join(dir, 'image.tar'));
  }, 60_000);

  afterAll(async () => {
    if (!dir) return;
    try {
      // what a failed test left: tasks, containers, images, namespaces
      for (const lane of LANES) {
        const ns = `${path.basename(dir)}-${lane.name}`;
        const ctr = ctrAt(ns);
        for (const line of ctr(['task', 'ls', '-q']).stdout.split('\n').filter(Boolean)) {
          ctr(['task', 'kill', '-a', '-s', 'KILL', line]);
          waitFor(
            () =>
              !/RUNNING|PAUSED/.test(
                ctr(['task', 'ls'])
                  .stdout.split('\n')
                  .find((l) => l.startsWith(line + ' ')) ?? '',
              ),
            5_000,
          );
          ctr(['task', 'delete', '-f', line]);
        }
        for (const c of ctr(['container', 'ls', '-q']).stdout.split('\n').filter(Boolean)) ctr(['container', 'delete', c]);
        ctr(['image', 'rm', IMAGE]);
        run(CTR!, ['--address', address, 'namespace', 'rm', ns]);
        removeCgroup(`/${ns}`);
      }
    } finally {
      await stopContainerd(daemon);
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      removeNew(HOST_PATHS, before);
    }
  }, 60_000);

  for (const lane of LANES) {
    describe(`ctr run --runc-binary ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
      let ns = '';
      let ctr: (args: string[]) => Result = () => ({ status: null, stdout: '', stderr: '' });
      let log = '';
      let runtime: string[] = [];
      let fifo: string[] = [];

      beforeAll(() => {
        ns = `${path.basename(dir)}-${lane.name}`;
        ctr = ctrAt(ns);
        log = path.join(dir, `${lane.name}-calls.log`);
        const wrapper = writeRuntimeWrapper(path.join(dir, 'bin'), lane, log);
        runtime = ['--runc-binary', wrapper, '--runc-root', path.join(dir, `${lane.name}-root`)];
        fifo = ['--fifo-dir', path.join(dir, 'fifo')];
        const imp = ctr(['image', 'import', path.join(dir, 'image.tar')]);
        expect(imp.status, imp.stderr).toBe(0);
      }, 30_000);

      const taskStatus = (id: string): string =>
        ctr(['task', 'ls'])
          .stdout.split('\n')
          .find((l) => l.startsWith(`${id} `))
          ?.trim()
          .split(/\s+/)[2] ?? '';
      const taskPid = (id: string): number =>
        Number(
          ctr(['task', 'ls'])
            .stdout.split('\n')
            .find((l) => l.startsWith(`${id} `))
            ?.trim()
            .split(/\s+/)[1],
        );
      const cgroupFile = (pid: number, controller: string, file: string): string => {
        const line = fs
          .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
          .split('\n')
          .find((l) => l.split(':')[1]?.split(',').includes(controller));
        return fs.readFileSync(path.join('/sys/fs/cgroup', controller, line!.split(':')[2], file), 'utf8').trim();
      };
      const detached = (id: string, script: string, extra: string[] = []): void => {
        const r = ctr(['run', ...runtime, ...fifo, '-d', ...extra, IMAGE, id, 'sh', '-c', script]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(taskStatus(id)).toBe('RUNNING');
      };
      const remove = (id: string): void => {
        expect(waitFor(() => taskStatus(id) === 'STOPPED', 10_000)).toBe(true);
        ctr(['task', 'delete', id]);
        expect(ctr(['container', 'delete', id]).status).toBe(0);
      };

      it('ctr run --rm: output, stderr and the exit code', () => {
        const r = ctr(['run', ...runtime, ...fifo, '--rm', IMAGE, 'r1', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        expect(r.stdout).toBe('out\n');
        expect(r.stderr).toBe('err\n');
        expect(r.status).toBe(3);
        expect(ctr(['run', ...runtime, ...fifo, '--rm', IMAGE, 'r2', 'true']).status).toBe(0);
      });

      it('--env and --cwd', () => {
        const r = ctr([
          'run',
          ...runtime,
          ...fifo,
          '--rm',
          '--env',
          'FOO=bar',
          '--cwd',
          '/tmp',
          IMAGE,
          'r3',
          'sh',
          '-c',
          'echo "$FOO $(pwd)"',
        ]);
        expect(r.stdout).toBe('bar /tmp\n');
        expect(r.status).toBe(0);
      });

      it("a failed create: the shim reports the runtime's error from its log.json", () => {
        const r = ctr(['run', ...runtime, ...fifo, '--rm', IMAGE, 'n1', '/nonexistent']);
        expect(r.status).not.toBe(0);
        expect(r.stderr).toContain('OCI runtime create failed');
        expect(r.stderr).toContain('/nonexistent');
        ctr(['container', 'delete', 'n1']);
      });

      it('detached task: exec (exit code, --user, --cwd, -t), ps, pause/resume, kill, delete', () => {
        detached('d1', 'trap "exit 42" TERM; while :; do sleep 0.1; done');
        const pid = taskPid('d1');
        const e = ctr(['task', 'exec', ...fifo, '--exec-id', 'e1', 'd1', 'sh', '-c', 'echo in-exec; exit 7']);
        expect(e.stdout).toBe('in-exec\n');
        expect(e.status).toBe(7);
        const u = ctr([
          'task',
          'exec',
          ...fifo,
          '--exec-id',
          'e2',
          '--user',
          '1000',
          '--cwd',
          '/tmp',
          'd1',
          'sh',
          '-c',
          'echo "$(id -u) $(pwd)"',
        ]);
        expect(u.stdout).toBe('1000 /tmp\n');
        const t = withTty([
          CTR!,
          '--address',
          address,
          '-n',
          ns,
          'task',
          'exec',
          ...fifo,
          '-t',
          '--exec-id',
          'e3',
          'd1',
          'sh',
          '-c',
          'tty; test -t 0 && echo isatty',
        ]);
        expect(t.stdout).toMatch(/\/dev\/pts\/\d+\r*\n/);
        expect(t.stdout).toMatch(/isatty\r*\n/);
        // a detached exec shows in `task ps` (the runtime's ps) next to the init
        expect(ctr(['task', 'exec', ...fifo, '--detach', '--exec-id', 'e4', 'd1', 'sleep', '30']).status).toBe(0);
        const ps = ctr(['task', 'ps', 'd1']);
        expect(ps.status).toBe(0);
        const pids = ps.stdout
          .split('\n')
          .slice(1)
          .filter(Boolean)
          .map((l) => Number(l.trim().split(/\s+/)[0]));
        expect(pids).toContain(pid);
        expect(pids.length).toBeGreaterThanOrEqual(2);

        expect(ctr(['task', 'pause', 'd1']).status).toBe(0);
        expect(taskStatus('d1')).toBe('PAUSED');
        expect(cgroupFile(pid, 'freezer', 'freezer.state')).toBe('FROZEN');
        expect(ctr(['task', 'resume', 'd1']).status).toBe(0);
        expect(taskStatus('d1')).toBe('RUNNING');

        expect(ctr(['task', 'kill', '-s', 'TERM', 'd1']).status).toBe(0);
        expect(waitFor(() => taskStatus('d1') === 'STOPPED', 10_000)).toBe(true);
        const del = ctr(['task', 'delete', 'd1']);
        expect(del.stderr).toContain('exit code 42');
        expect(ctr(['container', 'delete', 'd1']).status).toBe(0);
        expect(ctr(['task', 'ls', '-q']).stdout).not.toContain('d1');
      });

      it('--memory-limit reaches the cgroup; kill --all ends every process', () => {
        detached('m1', 'sleep 1000 & sleep 1000 & wait', ['--memory-limit', String(64 << 20)]);
        const pid = taskPid('m1');
        expect(cgroupFile(pid, 'memory', 'memory.limit_in_bytes')).toBe(String(64 << 20));
        expect(ctr(['task', 'kill', '-a', '-s', 'KILL', 'm1']).status).toBe(0);
        remove('m1');
      });

      it("-t: the task gets a terminal (the shim's --console-socket)", () => {
        const r = withTty([
          CTR!,
          '--address',
          address,
          '-n',
          ns,
          'run',
          ...runtime,
          ...fifo,
          '--rm',
          '-t',
          IMAGE,
          't1',
          'sh',
          '-c',
          'tty; test -t 0 && echo isatty; exit 4',
        ]);
        expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
        expect(r.stdout).toMatch(/isatty\r*\n/);
        expect(r.status).toBe(4);
      });

      it(`the shim drove ${lane.name} with --log log.json --log-format json, through create, start, exec, ps, pause, resume, kill and delete`, () => {
        const seen = calls(log);
        const cmds = new Set(seen.map(commandOf));
        for (const c of ['create', 'start', 'exec', 'ps', 'pause', 'resume', 'kill', 'delete']) expect(cmds).toContain(c);
        expect(seen.some((c) => /--log \S+\/log\.json --log-format json create /.test(c))).toBe(true);
        expect(seen.some((c) => commandOf(c) === 'kill' && / --all /.test(c))).toBe(true);
      });
    });
  }
});
