// User namespaces through containerd 1.6 (Debian's containerd, its runc shim
// and ctr): `ctr run --uidmap/--gidmap` (a remapped snapshot, the shim's
// runtime in a user namespace of its own), `ctr task exec` into it, a
// terminal, and `--with-ns user:/proc/PID/ns/user` joining a running task's
// user namespace by path. Every test runs with tcr and with runc (the
// control lane).
//
// The shim's runtime cannot be chosen by `--runc-binary` here: with
// --uidmap, ctr 1.6 gives the task create options of its own ({IoUid,
// IoGid}, ctr's getNewTaskOpts and containerd.WithUIDOwner), which replace
// the container's runtime options, so --runc-binary and --runc-root are
// dropped and the shim runs `runc` from its PATH with its default root
// /run/containerd/runc/<namespace> — the road of the issue, whose error was
// `step 42 open exec fifo /run/containerd/runc/<ns>/<id>/exec.fifo ...
// EACCES`. So the private containerd gets a PATH whose first `runc` is a
// dispatcher: the lane's binary by the namespace in --root (one namespace
// per lane), every call recorded. /run/containerd/runc is made 0700 as runc
// makes it, if absent: the init, with the user namespace's credentials,
// cannot search it, and the runtime has to hand it the exec fifo open.
//
// The daemon's dirs are private to a temp dir, as in containerd.test.ts; the
// temp dir is 0711 (as /run/containerd is) so the mapped root reaches its
// rootfs under state/.
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
  daemonEnv,
  removeCgroup,
  removeNew,
  run,
  shellQuote,
  snapshotPaths,
  squeezeMap,
  startContainerd,
  stopContainerd,
  unmountUnder,
  userNsOf,
  waitFor,
  which,
  withTty,
  type Containerd,
  type Result,
} from './lib.js';

const CONTAINERD = which('containerd');
const CTR = which('ctr');
const available = isRoot && !!CONTAINERD && !!CTR && !!which('containerd-shim-runc-v2') && !!RUNC && !!which('script');
const IMAGE = 'localhost/busybox:test';
const RUNC_ROOT = '/run/containerd/runc';
const HOST_PATHS = ['/run/containerd', '/run/containerd/s', '/run/containerd/fifo', RUNC_ROOT];
const MAP = ['--uidmap', '0:100000:65536', '--gidmap', '0:100000:65536'];
const LOOP = 'trap "exit 0" TERM; while :; do sleep 0.1; done';

let dir = '';
let address = '';
let daemon: Containerd | undefined;
let before = new Set<string>();

const nsOf = (lane: string): string => `${path.basename(dir)}-${lane}`;
const logOf = (lane: string): string => path.join(dir, `${lane}-calls.log`);
const ctrAt =
  (ns: string) =>
  (args: string[]): Result =>
    run(CTR!, ['--address', address, '-n', ns, ...args]);
const lines = (r: Result): string[] => r.stdout.split('\n').filter(Boolean);

/** The shim's `runc`: the lane whose namespace --root names, runc for anything else. */
function writeDispatcher(bin: string): void {
  fs.mkdirSync(bin, { recursive: true });
  const cases = LANES.map((lane) =>
    [
      `  *" --root ${RUNC_ROOT}/${nsOf(lane.name)} "*)`,
      `    printf '%s\\n' "$*" >> ${shellQuote(logOf(lane.name))}`,
      `    exec ${shellQuote(lane.bin)} "$@";;`,
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(bin, 'runc'),
    [
      '#!/bin/sh',
      'case " $* " in',
      ...cases,
      '  *)',
      `    printf '%s\\n' "$*" >> ${shellQuote(path.join(dir, 'other-calls.log'))}`,
      `    exec ${shellQuote(RUNC!)} "$@";;`,
      'esac',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

describe.skipIf(lacks(available))('user namespaces through containerd (private daemon), the runc shim running tcr or runc', () => {
  beforeAll(async () => {
    before = snapshotPaths(HOST_PATHS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-e2e-userns-ctrd-'));
    fs.chmodSync(dir, 0o711);
    if (!fs.existsSync(RUNC_ROOT)) fs.mkdirSync(RUNC_ROOT, { recursive: true, mode: 0o700 });
    address = path.join(dir, 'containerd.sock');
    writeDispatcher(path.join(dir, 'shim-path'));
    // the shims inherit this PATH: their `runc` is the dispatcher
    const env = { ...daemonEnv(), PATH: `${path.join(dir, 'shim-path')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    daemon = startContainerd(dir, address, containerdConfig(dir, address), env);
    buildOciArchive(dir, path.join(DEMO, 'rootfs'), IMAGE, path.join(dir, 'image.tar'));
  }, 60_000);

  afterAll(async () => {
    if (!dir) return;
    try {
      for (const lane of LANES) {
        const ns = nsOf(lane.name);
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
      // what the runtimes still record in their roots (a test that failed half-way), deleted by the lane's own runtime
      for (const lane of LANES) {
        const root = path.join(RUNC_ROOT, nsOf(lane.name));
        if (!fs.existsSync(root)) continue;
        for (const id of fs.readdirSync(root).filter((n) => !n.startsWith('.'))) run(lane.bin, ['--root', root, 'delete', '--force', id]);
        fs.rmSync(root, { recursive: true, force: true });
      }
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
      removeNew(HOST_PATHS, before);
    }
  }, 60_000);

  for (const lane of LANES) {
    describe(`ctr run --uidmap, the shim's runc being ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
      let ctr: (args: string[]) => Result = () => ({ status: null, stdout: '', stderr: '' });
      let fifo: string[] = [];

      beforeAll(() => {
        ctr = ctrAt(nsOf(lane.name));
        fifo = ['--fifo-dir', path.join(dir, 'fifo')];
        const imp = ctr(['image', 'import', path.join(dir, 'image.tar')]);
        expect(imp.status, imp.stderr).toBe(0);
      }, 30_000);

      const taskLine = (id: string): string[] =>
        ctr(['task', 'ls'])
          .stdout.split('\n')
          .find((l) => l.startsWith(`${id} `))
          ?.trim()
          .split(/\s+/) ?? [];
      const taskPid = (id: string): number => Number(taskLine(id)[1]);
      const detached = (id: string, extra: string[], script = LOOP): number => {
        const r = ctr(['run', ...fifo, '-d', ...MAP, ...extra, IMAGE, id, 'sh', '-c', script]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(taskLine(id)[2]).toBe('RUNNING');
        return taskPid(id);
      };
      const remove = (id: string): void => {
        expect(ctr(['task', 'kill', '-s', 'TERM', id]).status).toBe(0);
        expect(waitFor(() => taskLine(id)[2] === 'STOPPED', 10_000)).toBe(true);
        ctr(['task', 'delete', id]);
        expect(ctr(['container', 'delete', id]).status).toBe(0);
      };
      /** The runtime commands the shim ran for a container, in order. */
      const commandsFor = (id: string): string[] =>
        calls(logOf(lane.name))
          .filter((c) => c.endsWith(` ${id}`))
          .map(commandOf);

      it('ctr run --rm: root inside is host uid 100000, in a user namespace of its own; the exit code; the shim ran this lane', () => {
        const r = ctr([
          'run',
          ...fifo,
          '--rm',
          ...MAP,
          IMAGE,
          'r1',
          'sh',
          '-c',
          'id -u; id -g; cat /proc/self/uid_map; cat /proc/self/gid_map; readlink /proc/self/ns/user; touch /tmp/x; stat -c %u:%g /tmp/x /bin/busybox; exit 3',
        ]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(3);
        const [uid, gid, uidMap, gidMap, ns, ...owners] = lines(r);
        expect([uid, gid]).toEqual(['0', '0']);
        expect(squeezeMap(uidMap)).toBe('0 100000 65536');
        expect(squeezeMap(gidMap)).toBe('0 100000 65536');
        expect(ns).not.toBe(userNsOf('self'));
        // the remapped snapshot: the image's root-owned files are the container's root's
        expect(owners).toEqual(['0:0', '0:0']);
        // the shim ran this lane's binary (not --runc-binary: ctr dropped it), with its default root
        const cmds = commandsFor('r1');
        expect(cmds.slice(0, 2)).toEqual(['create', 'start']);
        expect(
          calls(logOf(lane.name)).some((c) => c.startsWith(`--root ${RUNC_ROOT}/${nsOf(lane.name)} `) && / create --bundle /.test(c)),
        ).toBe(true);
      });

      it("detached: files land as host uid 100000; ctr task exec (root, --user 1000, -t) joins the init's user namespace", () => {
        const pid = detached('d1', [], `touch /tmp/from-init; ${LOOP}`);
        expect(squeezeMap(fs.readFileSync(`/proc/${pid}/uid_map`, 'utf8'))).toBe('0 100000 65536');
        const initNs = userNsOf(pid);
        expect(initNs).not.toBe(userNsOf('self'));
        const e = ctr([
          'task',
          'exec',
          ...fifo,
          '--exec-id',
          'e1',
          'd1',
          'sh',
          '-c',
          'id -u; readlink /proc/self/ns/user; touch /tmp/from-exec; exit 7',
        ]);
        expect(e.stderr).toBe('');
        expect(e.status).toBe(7);
        expect(lines(e)).toEqual(['0', initNs]);
        const u = ctr([
          'task',
          'exec',
          ...fifo,
          '--exec-id',
          'e2',
          '--user',
          '1000',
          'd1',
          'sh',
          '-c',
          'id -u; readlink /proc/self/ns/user; touch /tmp/from-1000',
        ]);
        expect(u.stdout).toBe(`1000\n${initNs}\n`);
        const t = withTty([
          CTR!,
          '--address',
          address,
          '-n',
          nsOf(lane.name),
          'task',
          'exec',
          ...fifo,
          '-t',
          '--exec-id',
          'e3',
          'd1',
          'sh',
          '-c',
          'test -t 0 && echo isatty; readlink /proc/self/ns/user',
        ]);
        expect(t.stdout).toMatch(/isatty\r*\n/);
        expect(t.stdout).toContain(initNs);
        // as the host sees them (the container's root: /proc/PID/root)
        // as the host sees them (the container's root: /proc/PID/root); ctr's --user 1000 keeps gid 0
        const owners = ['bin/busybox', 'tmp/from-init', 'tmp/from-exec', 'tmp/from-1000'].map((f) => {
          const st = fs.statSync(path.join(`/proc/${pid}/root`, f));
          return `${f} ${st.uid}:${st.gid}`;
        });
        expect(owners).toEqual([
          'bin/busybox 100000:100000',
          'tmp/from-init 100000:100000',
          'tmp/from-exec 100000:100000',
          'tmp/from-1000 101000:100000',
        ]);
        remove('d1');
        expect(commandsFor('d1')).toContain('exec');
      });

      it("-t: the task's terminal (the shim's console socket), owned by the container's root", () => {
        const r = withTty([
          CTR!,
          '--address',
          address,
          '-n',
          nsOf(lane.name),
          'run',
          ...fifo,
          '--rm',
          '-t',
          ...MAP,
          IMAGE,
          't1',
          'sh',
          '-c',
          'tty; test -t 0 && echo isatty; stat -c %u $(tty); cat /proc/self/uid_map; exit 4',
        ]);
        expect(r.status).toBe(4);
        expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
        expect(r.stdout).toMatch(/isatty\r*\n/);
        expect(r.stdout).toMatch(/^0\r*$/m);
        expect(r.stdout).toMatch(/^\s*0\s+100000\s+65536\r*$/m);
      });

      it("--with-ns user:/proc/PID/ns/user (and network): a task joins a running task's user namespace by path; exec into it", () => {
        const pid = detached('o1', []);
        const ownerNs = userNsOf(pid);
        const ownerNet = fs.readlinkSync(`/proc/${pid}/ns/net`);
        const jpid = detached(
          'j1',
          ['--with-ns', `user:/proc/${pid}/ns/user`, '--with-ns', `network:/proc/${pid}/ns/net`],
          `touch /tmp/from-joiner; ${LOOP}`,
        );
        // what the runtime was asked: to join by path, not to make a namespace
        const spec = JSON.parse(
          fs.readFileSync(path.join(dir, 'state', 'io.containerd.runtime.v2.task', nsOf(lane.name), 'j1', 'config.json'), 'utf8'),
        );
        expect(spec.linux.namespaces).toContainEqual({ type: 'user', path: `/proc/${pid}/ns/user` });
        expect(userNsOf(jpid)).toBe(ownerNs);
        expect(fs.readlinkSync(`/proc/${jpid}/ns/net`)).toBe(ownerNet);
        expect(fs.readlinkSync(`/proc/${jpid}/ns/mnt`)).not.toBe(fs.readlinkSync(`/proc/${pid}/ns/mnt`));
        const e = ctr([
          'task',
          'exec',
          ...fifo,
          '--exec-id',
          'e1',
          'j1',
          'sh',
          '-c',
          'id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/net; cat /proc/self/uid_map',
        ]);
        expect(e.stderr).toBe('');
        expect(e.status).toBe(0);
        expect(lines(e).slice(0, 3)).toEqual(['0', ownerNs, ownerNet]);
        expect(squeezeMap(lines(e)[3])).toBe('0 100000 65536');
        expect(fs.statSync(`/proc/${jpid}/root/tmp/from-joiner`).uid).toBe(100000);
        remove('j1');
        remove('o1');
      });

      it(`the shim drove ${lane.name} only through the dispatcher, never anything else`, () => {
        expect(fs.existsSync(path.join(dir, 'other-calls.log'))).toBe(false);
        // the state directory's parent is one the init could not search (0700, as runc makes it)
        if (!before.has(RUNC_ROOT)) expect(fs.statSync(RUNC_ROOT).mode & 0o777).toBe(0o700);
      });
    });
  }
});
