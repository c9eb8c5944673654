// Rootless podman (Debian's podman 4.3 as an ordinary user with /etc/subuid
// and /etc/subgid ranges) with tcr as `--runtime`, and runc as the control
// lane, run first. Podman re-executes itself in a user namespace mapping the
// user to root and their ranges to the rest, and calls the runtime there:
// the runtime is uid 0 without the host's privileges, gets no --root and no
// --rootless, and a config.json without a user namespace of its own. It has
// to find that out itself (src/linux/userns.ts), as runc does: state in
// $XDG_RUNTIME_DIR/tcr, no cgroup where none is delegated, host device
// nodes bound in instead of mknod.
//
// The test makes a real account (useradd, a range of its own in /etc/subuid
// and /etc/subgid) and /run/user/UID (no logind on this host), runs podman
// as it through runuser with a private store, run root, tmpdir and
// containers.conf, and removes all of it afterwards, with whatever the
// account still runs.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, isRoot, lacks, mountsUnder } from '../helpers.js';
import { LANES, calls, commandOf, run, squeezeMap, waitFor, which, writeRuntimeWrapper, type Result } from './lib.js';

const PODMAN = which('podman');
const NEEDED = ['podman', 'conmon', 'newuidmap', 'newgidmap', 'slirp4netns', 'runc', 'useradd', 'runuser'];
const missing = [...(isRoot ? [] : ['root (to make the test account)']), ...NEEDED.filter((t) => !which(t))];
const IMAGE = 'localhost/busybox:rootless';
const PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
// the sandbox here cannot raise rlimits, and podman's defaults would
const ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
// a shell that ends at once on TERM (pid 1 ignores signals it has no handler for)
const LOOP = 'trap "exit 0" TERM; echo started; while :; do sleep 0.1; done';
// a range of its own, spread so that two runs of this file do not share it
const RANGE_BASE = 1_000_000 + crypto.randomInt(1000) * 65536;
const RANGE = 65536;
// what podman says of a host without systemd whenever it makes its user namespace: not the runtime's
const NOT_SHARED =
  /^time=\S+ level=warning msg="\\"\/\\" is not a shared mount, this could cause issues or missing mounts with rootless containers"\n/m;

interface Account {
  name: string;
  uid: number;
  gid: number;
  /** /run/user/UID, made by the test */
  runtimeDir: string;
}

/** Host pids of the account's processes and of those running as one of its subordinate ids. */
function processesOf(a: Account): number[] {
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const uid = Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))![1]);
      if (uid === a.uid || (uid >= RANGE_BASE && uid < RANGE_BASE + RANGE)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

function hostIds(pid: number): { uid: number; gid: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)![1]);
  return { uid: field('Uid'), gid: field('Gid') };
}

function killPid(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

const skip = lacks(missing.length === 0);
const title = `rootless podman${skip ? ` (skipped: needs ${missing.join(', ')})` : ''}`;

describe.skipIf(skip)(title, () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-e2e-rlpodman-'));
  const suffix = crypto.randomBytes(3).toString('hex');
  let account: Account | undefined;
  let madeRunUser = false;

  beforeAll(() => {
    fs.chmodSync(work, 0o755); // the account reaches its directories through it
    const name = `tcrpod${suffix}`;
    // SUB_*_COUNT=0: useradd gives no ranges of its own accord; the test adds exactly the one it wants
    const r = run('useradd', ['-m', '-K', 'SUB_UID_COUNT=0', '-K', 'SUB_GID_COUNT=0', name]);
    if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
    const uid = Number(run('id', ['-u', name]).stdout.trim());
    const gid = Number(run('id', ['-g', name]).stdout.trim());
    account = { name, uid, gid, runtimeDir: `/run/user/${uid}` };
    const range = `${RANGE_BASE}-${RANGE_BASE + RANGE - 1}`;
    const m = run('usermod', ['--add-subuids', range, '--add-subgids', range, name]);
    if (m.status !== 0) throw new Error(`usermod ${name}: ${m.stderr}`);
    // what logind would make at the account's first login
    if (!fs.existsSync('/run/user')) {
      fs.mkdirSync('/run/user', { mode: 0o755 });
      madeRunUser = true;
    }
    fs.rmSync(account.runtimeDir, { recursive: true, force: true }); // a leftover of an earlier account with this uid
    fs.mkdirSync(account.runtimeDir, { mode: 0o700 });
    fs.chownSync(account.runtimeDir, uid, gid);
  });

  afterAll(() => {
    try {
      if (account) for (const pid of processesOf(account)) killPid(pid);
    } finally {
      if (account) {
        run('userdel', ['-r', account.name]);
        // userdel removes the account's subordinate ranges; a failed useradd/usermod may not have
        for (const file of ['/etc/subuid', '/etc/subgid']) {
          const lines = fs.readFileSync(file, 'utf8').split('\n');
          const kept = lines.filter((l) => !l.startsWith(`${account!.name}:`));
          if (kept.length !== lines.length) fs.writeFileSync(file, kept.join('\n'));
        }
        fs.rmSync(account.runtimeDir, { recursive: true, force: true });
      }
      if (madeRunUser) fs.rmSync('/run/user', { recursive: true, force: true });
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  // runc, the control, first: what it does is what tcr must
  for (const lane of ['runc', 'tcr'].map((n) => LANES.find((l) => l.name === n)!)) {
    describe(`podman --runtime ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
      let dir = '';
      let log = '';
      let global: string[] = [];
      let env: string[] = [];
      const a = (): Account => account!;
      /** the lane's default state root for the account: runc's $XDG_RUNTIME_DIR/runc, tcr's $XDG_RUNTIME_DIR/tcr */
      const stateRoot = (): string => path.join(a().runtimeDir, lane.name);

      /** podman as the account, with an environment of the test's making. */
      const podman = (args: string[], input?: string): Result => {
        const r = run('runuser', ['-u', a().name, '--', 'env', '-i', ...env, PODMAN!, ...global, ...args], {
          cwd: dir,
          input,
          timeout: 90_000,
        });
        return { ...r, stderr: r.stderr.replace(NOT_SHARED, '') };
      };
      const inspect = (name: string, format: string): string => podman(['inspect', '-f', format, name]).stdout.trim();
      const runRm = (args: string[], input?: string): Result => podman(['run', '--rm', ...ULIMITS, ...args], input);
      const pausePid = (): number | undefined => {
        try {
          return Number(fs.readFileSync(path.join(dir, 'tmp', 'pause.pid'), 'utf8'));
        } catch {
          return undefined;
        }
      };

      beforeAll(() => {
        dir = path.join(work, lane.name);
        fs.mkdirSync(dir);
        log = path.join(dir, 'runtime-calls.log');
        // no --root: where the runtime keeps its state is for it to find out
        const wrapper = writeRuntimeWrapper(path.join(dir, 'bin'), lane, log);
        fs.writeFileSync(
          path.join(dir, 'containers.conf'),
          // file locks, not /dev/shm/libpod_rootless_lock_UID; runtime errors through --log-format=json
          ['[engine]', 'lock_type = "file"', 'runtime_supports_json = ["crun", "runc", "tcr"]', ''].join('\n'),
        );
        const tarball = path.join(dir, 'rootfs.tar');
        expect(run('tar', ['-C', path.join(DEMO, 'rootfs'), '--numeric-owner', '-cf', tarball, '.']).status).toBe(0);
        expect(run('chown', ['-R', `${a().uid}:${a().gid}`, dir]).status).toBe(0);
        env = [
          `PATH=${PATH}`,
          `HOME=/home/${a().name}`,
          `USER=${a().name}`,
          `XDG_RUNTIME_DIR=${a().runtimeDir}`,
          `CONTAINERS_CONF=${path.join(dir, 'containers.conf')}`,
        ];
        const flags = {
          root: path.join(dir, 'storage'),
          runroot: path.join(dir, 'run'),
          tmpdir: path.join(dir, 'tmp'),
          'storage-driver': 'vfs',
          'cgroup-manager': 'cgroupfs',
          'events-backend': 'file',
          runtime: wrapper,
        };
        global = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, v]);
        // the image: the demo busybox rootfs, imported locally (no registry)
        const imp = podman(['import', '-q', tarball, IMAGE]);
        expect(imp.stderr).toBe('');
        expect(imp.status).toBe(0);
      }, 90_000);

      afterAll(() => {
        if (!dir || !account) return;
        try {
          podman(['rm', '-a', '-f', '-t', '0']);
        } finally {
          // the process holding podman's user namespace, which podman leaves for its next call
          const pid = pausePid();
          if (pid) killPid(pid);
        }
      }, 90_000);

      it('run --rm: output, stderr and the exit code, the runtime called in a user namespace without --root or --rootless', () => {
        const r = runRm([IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        expect(r.stdout).toBe('out\n');
        expect(r.stderr).toBe('err\n');
        expect(r.status).toBe(3);
        const seen = calls(log);
        const create = seen.find((c) => commandOf(c) === 'create');
        expect(create, seen.join('\n')).toBeDefined();
        expect(create).toMatch(/^--log-format=json --log \S+ create --bundle /);
        expect(seen.filter((c) => /--root\b|--rootless\b/.test(c))).toEqual([]);
        // podman's own namespace, which the runtime inherits: the account as root, its range as the rest
        const pid = pausePid();
        expect(pid).toBeGreaterThan(0);
        expect(squeezeMap(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8'))).toBe(`0 ${a().uid} 1\n1 ${RANGE_BASE} ${RANGE}`);
      });

      it('id -u is 0 and /proc/self/uid_map, gid_map are the account and its ranges', () => {
        const r = runRm([IMAGE, 'sh', '-c', 'id -u; id -g; echo; cat /proc/self/uid_map; echo; cat /proc/self/gid_map']);
        expect(r.stderr).toBe('');
        const [ids, uidMap, gidMap] = r.stdout.split('\n\n');
        expect(ids).toBe('0\n0');
        expect(squeezeMap(uidMap)).toBe(`0 ${a().uid} 1\n1 ${RANGE_BASE} ${RANGE}`);
        expect(squeezeMap(gidMap)).toBe(`0 ${a().gid} 1\n1 ${RANGE_BASE} ${RANGE}`);
      });

      it("-d, ps, logs, exec, stop, rm: the state in the account's runtime dir, no cgroup of its own", () => {
        const d = podman(['run', '-d', '--name', 'd1', ...ULIMITS, IMAGE, 'sh', '-c', LOOP]);
        expect(d.stderr).toBe('');
        expect(d.status).toBe(0);
        const id = d.stdout.trim();
        expect(podman(['ps', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/^d1 Up /);
        expect(waitFor(() => podman(['logs', 'd1']).stdout === 'started\n', 10_000)).toBe(true);
        expect(fs.statSync(path.join(stateRoot(), id)).uid).toBe(a().uid);
        const pid = Number(inspect('d1', '{{.State.Pid}}'));
        expect(hostIds(pid)).toEqual({ uid: a().uid, gid: a().gid });
        // as with runc: no cgroup where none is delegated (v1 and hybrid hosts): the init stays in conmon's
        const conmon = Number(inspect('d1', '{{.State.ConmonPid}}'));
        expect(fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(fs.readFileSync(`/proc/${conmon}/cgroup`, 'utf8'));
        // what podman handed the runtime: no user namespace of the container's own, nor maps
        const bundle = /--bundle (\S+)/.exec(calls(log).filter((c) => commandOf(c) === 'create' && c.includes(id))[0] ?? '')?.[1];
        const spec = JSON.parse(fs.readFileSync(path.join(bundle!, 'config.json'), 'utf8'));
        expect(spec.linux.namespaces.map((n: { type: string }) => n.type)).not.toContain('user');
        expect(spec.linux.uidMappings).toBeUndefined();

        const e = podman(['exec', 'd1', 'sh', '-c', 'echo in-exec $(id -u); exit 7']);
        expect(e.stdout).toBe('in-exec 0\n');
        expect(e.status).toBe(7);
        const u = podman(['exec', '-u', '1000', '-w', '/tmp', 'd1', 'sh', '-c', 'echo "$(id -u) $(pwd)"']);
        expect(u.stdout).toBe('1000 /tmp\n');
        const top = podman(['top', 'd1', 'pid', 'args']);
        expect(top.stdout).toMatch(/^\s*1\s+sh -c trap/m);

        expect(podman(['stop', '-t', '10', 'd1']).status).toBe(0);
        expect(inspect('d1', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 0');
        expect(podman(['rm', 'd1']).status).toBe(0);
        expect(podman(['ps', '-a', '--format', '{{.Names}}']).stdout).toBe('');
        expect(fs.existsSync(path.join(stateRoot(), id))).toBe(false);
      });

      it("a bind of the account's own directory: its files are root's inside, the container's writes the account's outside", () => {
        const vol = path.join(dir, 'vol');
        fs.mkdirSync(vol);
        fs.writeFileSync(path.join(vol, 'f'), 'from the host\n');
        expect(run('chown', ['-R', `${a().uid}:${a().gid}`, vol]).status).toBe(0);
        const r = runRm(['-v', `${vol}:/vol`, IMAGE, 'sh', '-c', 'cat /vol/f; stat -c "%u:%g" /vol/f; echo made > /vol/g']);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('from the host\n0:0\n');
        const st = fs.statSync(path.join(vol, 'g'));
        expect([st.uid, st.gid]).toEqual([a().uid, a().gid]);
        expect(fs.readFileSync(path.join(vol, 'g'), 'utf8')).toBe('made\n');
      });

      it('--network none: only lo; the default network: slirp4netns tap0', () => {
        const none = runRm(['--network', 'none', IMAGE, 'ls', '/sys/class/net']);
        expect(none.stderr).toBe('');
        expect(none.stdout).toBe('lo\n');
        const slirp = runRm([
          IMAGE,
          'sh',
          '-c',
          'ls /sys/class/net; ip -o -4 addr show tap0 | tr -s " " | cut -d" " -f4; ip route | grep default',
        ]);
        expect(slirp.stderr).toBe('');
        expect(slirp.stdout).toMatch(/^lo\ntap0\n10\.0\.2\.100\/24\ndefault via 10\.0\.2\.2 dev tap0/);
      });

      it('--user 1000: uid 1000 inside, a subordinate uid of the account on the host', () => {
        const d = podman(['run', '-d', '--name', 'u1', '--user', '1000:1000', ...ULIMITS, IMAGE, 'sh', '-c', LOOP]);
        expect(d.status, d.stderr).toBe(0);
        const pid = Number(inspect('u1', '{{.State.Pid}}'));
        expect(hostIds(pid)).toEqual({ uid: RANGE_BASE + 999, gid: RANGE_BASE + 999 });
        const e = podman(['exec', 'u1', 'sh', '-c', 'id -u; id -g; touch /root/x 2>/dev/null || echo denied']);
        expect(e.stdout).toBe('1000\n1000\ndenied\n');
        expect(podman(['rm', '-f', '-t', '0', 'u1']).status).toBe(0);
      });

      it("the image's files are root's inside (the account's own uid on the host)", () => {
        const r = runRm([IMAGE, 'sh', '-c', 'stat -c "%u:%g %n" /bin/busybox /etc/passwd /tmp']);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('0:0 /bin/busybox\n0:0 /etc/passwd\n0:0 /tmp\n');
      });

      it('in podman unshare: without $XDG_RUNTIME_DIR /run is not writable, sysfs without a netns of its own is refused; tcr says why', () => {
        const b = path.join(dir, 'unshare-bundle');
        fs.mkdirSync(b);
        expect(run('cp', ['-a', path.join(DEMO, 'rootfs'), path.join(b, 'rootfs')]).status).toBe(0);
        expect(run(lane.bin, ['spec', '--bundle', b]).status).toBe(0);
        expect(run('chown', ['-R', `${a().uid}:${a().gid}`, b]).status).toBe(0);
        const r = podman(['unshare', 'env', '-u', 'XDG_RUNTIME_DIR', lane.bin, 'run', '--bundle', b, `u${suffix}`]);
        expect(r.status).not.toBe(0);
        if (lane.name === 'tcr')
          expect(r.stderr).toMatch(
            /^tcr: --root \/run\/tcr: cannot make the state directory: EACCES \(root of a user namespace .*set XDG_RUNTIME_DIR/,
          );
        expect(fs.existsSync(path.join(stateRoot(), `u${suffix}`))).toBe(false);
        // sysfs in the host's network namespace, which podman's user namespace does not own: EPERM under both, named by tcr
        const spec = JSON.parse(fs.readFileSync(path.join(b, 'config.json'), 'utf8'));
        spec.linux.namespaces = spec.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
        spec.process.terminal = false;
        fs.writeFileSync(path.join(b, 'config.json'), JSON.stringify(spec));
        const s = podman(['unshare', lane.bin, 'run', '--bundle', b, `s${suffix}`]);
        expect(s.status).not.toBe(0);
        expect(s.stderr).toMatch(/sysfs|\/sys/);
        if (lane.name === 'tcr')
          expect(s.stderr).toMatch(
            /^tcr: mounts\[\d+\]: in a user namespace sysfs mounts only with a network namespace the user namespace owns; bind \/sys/,
          );
        expect(fs.existsSync(path.join(stateRoot(), `s${suffix}`))).toBe(false);
      });

      it('after podman rm nothing is left: no processes, no state, no mounts on the host', () => {
        expect(podman(['ps', '-a', '-q']).stdout).toBe('');
        // podman's pause process, which holds its user namespace, is all that runs
        expect(waitFor(() => processesOf(a()).every((p) => p === pausePid()), 10_000)).toBe(true);
        expect(fs.existsSync(stateRoot()) ? fs.readdirSync(stateRoot()) : []).toEqual([]);
        expect(mountsUnder(dir)).toEqual([]);
        expect(mountsUnder(a().runtimeDir)).toEqual([]);
        // nor in podman's own mount namespace, where the containers' /dev/shm and netns files were
        // (the netns directory itself stays a mount point of podman's, made once for them all)
        const netnsDir = path.join(a().runtimeDir, 'netns');
        const inPodman = fs
          .readFileSync(`/proc/${pausePid()}/mountinfo`, 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4])
          .filter((m) => m && m !== netnsDir && (m.startsWith(dir) || m.startsWith(a().runtimeDir)));
        expect(inPodman).toEqual([]);
        // each container's runtime call: the runtime as podman runs it, and nothing else of the host's
        const cmds = new Set(calls(log).map(commandOf));
        for (const c of ['create', 'start', 'exec', 'kill', 'delete']) expect(cmds).toContain(c);
      });
    });
  }
});
