// tcr's runc commands run by an ordinary user, as `runc --rootless` is: the
// test makes real accounts (one with /etc/subuid and /etc/subgid ranges, one
// without), runs tcr as them through runuser, and checks what the container
// sees (root of its user namespace, its uid_map), what the host sees (the
// user's uid on the process), where the state goes, and that nothing stays.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Spec } from '../../src/spec/types.js';
import { DEMO, REPO, TCR, isRoot, lacks } from '../helpers.js';
import { makeAccount, processesOf, removeAccount, type Account } from './accounts.js';
import { waitFor } from './lib.js';

const haveTools = ['useradd', 'userdel', 'runuser', 'newuidmap', 'runc'].every((t) => spawnSync('which', [t]).status === 0);
const PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';

const suffix = crypto.randomBytes(3).toString('hex');
// ranges of their own, spread so that two runs of this file do not share them
const RANGE_BASE = 1_000_000 + crypto.randomInt(1000) * 65536;

function sh(cmd: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8' });
}

describe.skipIf(lacks(isRoot && haveTools))('rootless: runc commands as an ordinary user', () => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-rootless-'));
  const accounts: Account[] = [];
  let ranged: Account; // with /etc/subuid and /etc/subgid ranges
  let plain: Account; // without
  const made: { account: Account; id: string; runc?: boolean }[] = [];

  const account = (name: string, ranges: boolean): Account => {
    const a = makeAccount(name, ranges ? RANGE_BASE : undefined, work);
    accounts.push(a);
    return a;
  };

  /** tcr (or another program) as the account, with an environment of its own making. */
  const as = (a: Account, argv: string[], o: { cwd?: string; env?: Record<string, string>; stdio?: 'file' } = {}) => {
    const env = { PATH, HOME: `/home/${a.name}`, XDG_RUNTIME_DIR: a.runtimeDir, ...o.env };
    const envArgs = Object.entries(env)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}=${v}`);
    const out = path.join(work, `out-${crypto.randomBytes(4).toString('hex')}`);
    // a created container keeps its stdio: a file, not a pipe the spawn would wait on
    const fd = o.stdio === 'file' ? fs.openSync(out, 'w') : undefined;
    try {
      const r = spawnSync('runuser', ['-u', a.name, '--', 'env', '-i', ...envArgs, ...argv], {
        encoding: 'utf8',
        cwd: o.cwd ?? work,
        timeout: 60_000,
        stdio: fd !== undefined ? ['ignore', fd, fd] : 'pipe',
      });
      const text = fd !== undefined ? fs.readFileSync(out, 'utf8') : '';
      return { status: r.status, stdout: fd !== undefined ? text : r.stdout, stderr: fd !== undefined ? text : r.stderr };
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  };
  const tcr = (a: Account, args: string[], o: Parameters<typeof as>[2] = {}) => as(a, [TCR, ...args], o);

  /** A bundle of the account's own: the demo busybox rootfs, owned by it, and `tcr spec --rootless` edited by `edit`. */
  const bundle = (a: Account, name: string, args: string[], edit: (s: Spec) => void = () => {}): string => {
    const dir = path.join(work, `${a.name}-${name}`);
    fs.mkdirSync(dir);
    expect(sh('cp', ['-a', path.join(DEMO, 'rootfs'), path.join(dir, 'rootfs')]).status).toBe(0);
    expect(sh('chown', ['-R', `${a.uid}:${a.gid}`, dir]).status).toBe(0);
    const r = tcr(a, ['spec', '--rootless'], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec;
    spec.process!.terminal = false;
    spec.process!.args = args;
    edit(spec);
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    return dir;
  };
  const withRanges = (a: Account) => (s: Spec) => {
    s.linux!.uidMappings = [
      { containerID: 0, hostID: a.uid, size: 1 },
      { containerID: 1, hostID: RANGE_BASE, size: 65536 },
    ];
    s.linux!.gidMappings = [
      { containerID: 0, hostID: a.gid, size: 1 },
      { containerID: 1, hostID: RANGE_BASE, size: 65536 },
    ];
  };
  const uniqueId = (p: string) => `${p}${crypto.randomBytes(4).toString('hex')}`;
  const stateOf = (a: Account, id: string) => JSON.parse(tcr(a, ['state', id]).stdout) as { pid: number; status: string };
  const hostIds = (pid: number) => {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)![1]);
    return { uid: field('Uid'), gid: field('Gid') };
  };

  beforeAll(() => {
    fs.chmodSync(work, 0o755); // the accounts reach their bundles through it
    ranged = account(`tcrtest${suffix}`, true);
    plain = account(`tcrtest${suffix}n`, false);
  });

  afterAll(() => {
    try {
      for (const { account, id, runc } of made) {
        if (runc) as(account, ['runc', '--root', path.join(account.runtimeDir, 'runc'), 'delete', '--force', id]);
        else tcr(account, ['delete', '--force', id]);
      }
      // whatever a failed test left running under the test's own accounts, by pid
      for (const a of accounts) for (const pid of processesOf(a)) spawnSync('kill', ['-9', String(pid)]);
    } finally {
      for (const a of accounts) removeAccount(a);
      fs.rmSync(work, { recursive: true, force: true });
    }
  });

  it('writes the spec of runc spec --rootless, mapping the user to root', () => {
    const dir = bundle(ranged, 'spec', ['true']);
    const spec = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec;
    expect(spec.linux!.uidMappings).toEqual([{ containerID: 0, hostID: ranged.uid, size: 1 }]);
    expect(spec.linux!.gidMappings).toEqual([{ containerID: 0, hostID: ranged.gid, size: 1 }]);
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'user']);
    const runcDir = path.join(work, 'runc-spec');
    fs.mkdirSync(runcDir);
    fs.chownSync(runcDir, ranged.uid, ranged.gid);
    expect(as(ranged, ['runc', 'spec', '--rootless'], { cwd: runcDir }).status).toBe(0);
    const ours = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(JSON.parse(ours).linux).toEqual(JSON.parse(fs.readFileSync(path.join(runcDir, 'config.json'), 'utf8')).linux);
  });

  const LOOK = 'id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups; hostname';

  it('runs a bundle with only its own uid mapped: root inside, setgroups denied', () => {
    const id = uniqueId('one');
    const dir = bundle(plain, 'one', ['sh', '-c', LOOK]);
    const r = tcr(plain, ['run', id], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['0', '0']);
    expect(lines[2].trim().split(/\s+/)).toEqual(['0', String(plain.uid), '1']);
    expect(lines[3].trim().split(/\s+/)).toEqual(['0', String(plain.gid), '1']);
    expect(lines.slice(4)).toEqual(['deny', 'runc']);
    expect(fs.readdirSync(path.join(plain.runtimeDir, 'tcr'))).toEqual([]);
  });

  it('maps /etc/subuid and /etc/subgid ranges with newuidmap and newgidmap, like runc', () => {
    const dir = bundle(ranged, 'ranges', ['sh', '-c', LOOK], withRanges(ranged));
    const r = tcr(ranged, ['run', uniqueId('rng')], { cwd: dir });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 2)).toEqual(['0', '0']);
    const maps = lines.slice(2, 6).map((l) => l.trim().split(/\s+/));
    expect(maps).toEqual([
      ['0', String(ranged.uid), '1'],
      ['1', String(RANGE_BASE), '65536'],
      ['0', String(ranged.gid), '1'],
      ['1', String(RANGE_BASE), '65536'],
    ]);
    expect(lines[6]).toBe('allow');
    // runc --rootless on the same bundle, as the same user, sees the same
    const runcId = uniqueId('runc');
    made.push({ account: ranged, id: runcId, runc: true });
    const theirs = as(ranged, ['runc', '--root', path.join(ranged.runtimeDir, 'runc'), 'run', runcId], { cwd: dir });
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(theirs.stdout).toBe(r.stdout);
  });

  it('creates, starts, execs, lists, kills and deletes, with state in $XDG_RUNTIME_DIR/tcr and the user as the host uid', async () => {
    const id = uniqueId('life');
    made.push({ account: ranged, id });
    const dir = bundle(ranged, 'life', ['sleep', '1000'], withRanges(ranged));
    const c = tcr(ranged, ['create', id], { cwd: dir, stdio: 'file' });
    expect(c.status, c.stderr).toBe(0);
    const stateDir = path.join(ranged.runtimeDir, 'tcr', id);
    expect(fs.statSync(stateDir).uid).toBe(ranged.uid);
    expect(fs.existsSync(path.join(stateDir, 'state.json'))).toBe(true);
    const created = stateOf(ranged, id);
    expect(created.status).toBe('created');
    expect(hostIds(created.pid)).toEqual({ uid: ranged.uid, gid: ranged.gid });
    // runc --rootless lets exec into a created container too: its init stays dumpable
    expect(tcr(ranged, ['exec', id, 'id', '-u']).stdout).toBe('0\n');
    expect(tcr(ranged, ['start', id]).status).toBe(0);
    expect(stateOf(ranged, id).status).toBe('running');
    const list = tcr(ranged, ['list', '-q']);
    expect(list.stdout.split('\n')).toContain(id);

    const e = tcr(ranged, ['exec', id, 'sh', '-c', 'id -u; cat /proc/self/uid_map; cat /proc/1/cmdline | tr "\\0" " "']);
    expect(e.status, e.stderr).toBe(0);
    const [uid, map1, map2, cmd] = e.stdout.trim().split('\n');
    expect(uid).toBe('0');
    expect(map1.trim().split(/\s+/)).toEqual(['0', String(ranged.uid), '1']);
    expect(map2.trim().split(/\s+/)).toEqual(['1', String(RANGE_BASE), '65536']);
    expect(cmd.trim()).toBe('sleep 1000');

    // a container uid other than 0 is a subordinate uid on the host
    const pidFile = path.join(ranged.runtimeDir, 'exec.pid');
    const d = tcr(ranged, ['exec', '-d', '--pid-file', pidFile, '--user', '5:5', id, 'sleep', '999'], { stdio: 'file' });
    expect(d.status, d.stderr).toBe(0);
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(hostIds(execPid)).toEqual({ uid: RANGE_BASE + 4, gid: RANGE_BASE + 4 });
    const ps = tcr(ranged, ['ps', '--format', 'json', id]);
    expect(ps.status, ps.stderr).toBe(0);
    expect(JSON.parse(ps.stdout)).toEqual(expect.arrayContaining([created.pid, execPid]));

    expect(tcr(ranged, ['kill', '--all', id, 'KILL']).status).toBe(0);
    await waitFor(() => stateOf(ranged, id).status === 'stopped', 20_000, 'the container to stop');
    expect(tcr(ranged, ['delete', id]).status).toBe(0);
    expect(fs.existsSync(stateDir)).toBe(false);
    await waitFor(() => processesOf(ranged).length === 0, 20_000, "the user's processes to be gone");
  });

  it('has no cgroup where none is delegated, and says why when a limit is asked for', () => {
    const dir = bundle(plain, 'limits', ['true'], (s) => (s.linux!.resources = { memory: { limit: 64 << 20 } }));
    const id = uniqueId('lim');
    const r = tcr(plain, ['run', id], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^tcr: linux\.resources\.memory: a limit needs a cgroup, and this container has no cgroup: /);
    expect(fs.existsSync(path.join(plain.runtimeDir, 'tcr', id))).toBe(false);
    const debug = tcr(plain, ['--debug', 'run', uniqueId('dbg')], { cwd: bundle(plain, 'nolimits', ['true']) });
    expect(debug.status, debug.stderr).toBe(0);
    expect(debug.stderr).toMatch(/rootless: no cgroup: /);
  });

  it('tells a user without /etc/subuid ranges what to do', () => {
    const dir = bundle(plain, 'noranges', ['true'], withRanges(plain));
    const id = uniqueId('nor');
    const r = tcr(plain, ['run', id], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      `linux.uidMappings: host ids ${RANGE_BASE}-${RANGE_BASE + 65535} are not in a range of ${plain.name} in /etc/subuid`,
    );
    expect(r.stderr).toContain(`usermod --add-subuids 100000-165535 ${plain.name}`);
    expect(fs.existsSync(path.join(plain.runtimeDir, 'tcr', id))).toBe(false);
    expect(processesOf(plain)).toEqual([]);
  });

  it('tells a user without newuidmap to install uidmap', () => {
    const dir = bundle(ranged, 'nohelper', ['true'], withRanges(ranged));
    const id = uniqueId('noh');
    // node by its path, on a $PATH without the helpers
    const r = as(ranged, [process.execPath, path.join(REPO, 'bin', 'tcr.cjs'), 'run', id], { cwd: dir, env: { PATH: '/nonexistent' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^tcr: linux\.uidMappings: mapping more than your own id needs newuidmap, which is not on \$PATH .*apt-get install uidmap/,
    );
    expect(fs.existsSync(path.join(ranged.runtimeDir, 'tcr', id))).toBe(false);
  });

  it('refuses a spec without a user namespace, naming linux.namespaces', () => {
    const dir = bundle(plain, 'nouserns', ['true'], (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'user');
      delete s.linux!.uidMappings;
      delete s.linux!.gidMappings;
    });
    const r = tcr(plain, ['run', uniqueId('nou')], { cwd: dir });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /^tcr: linux\.namespaces: uid \d+ is not root, and a container made by an ordinary user needs a user namespace/,
    );
  });

  it('keeps its state in /run/user/UID/tcr without $XDG_RUNTIME_DIR', () => {
    const userRun = `/run/user/${plain.uid}`;
    const madeParent = !fs.existsSync('/run/user'); // a host without logind has none
    const madeRun = !fs.existsSync(userRun);
    if (madeParent) fs.mkdirSync('/run/user', { mode: 0o755 });
    if (madeRun) {
      fs.mkdirSync(userRun, { mode: 0o700 });
      fs.chownSync(userRun, plain.uid, plain.gid);
    }
    try {
      const id = uniqueId('run');
      const dir = bundle(plain, 'userrun', ['sleep', '100']);
      const c = tcr(plain, ['create', id], { cwd: dir, env: { XDG_RUNTIME_DIR: '' }, stdio: 'file' });
      expect(c.status, c.stderr).toBe(0);
      expect(fs.existsSync(path.join(userRun, 'tcr', id, 'state.json'))).toBe(true);
      expect(tcr(plain, ['delete', '--force', id], { env: { XDG_RUNTIME_DIR: '' } }).status).toBe(0);
      expect(fs.readdirSync(path.join(userRun, 'tcr'))).toEqual([]);
    } finally {
      if (madeRun) fs.rmSync(userRun, { recursive: true, force: true });
      if (madeParent) fs.rmdirSync('/run/user');
    }
  });

  it('refuses the commands a user does not have yet with a clear message, not EACCES', () => {
    for (const args of [
      ['network', 'ls'],
      ['push', 'busybox'],
      ['save', 'busybox'],
    ]) {
      const r = tcr(plain, args);
      expect(r.status, args.join(' ')).toBe(125);
      expect(r.stderr, args.join(' ')).toMatch(
        /needs root \(this is uid \d+; as an ordinary user tcr has the OCI runtime's bundle commands/,
      );
      expect(r.stderr).not.toMatch(/EACCES/);
    }
  });
});
