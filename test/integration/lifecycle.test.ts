// The OCI lifecycle as runc drives it: create → start → kill → delete, run
// (foreground, --detach, --keep), the refusals with runc's messages, list,
// exit codes, signal forwarding, pid reuse and concurrent commands.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { alive, createContainer, expectNothingLeft, killPid, runDetached, shBundle, spawnTcr, state, uniqueId, waitFor } from './lib.js';

/** Host pids of the processes in the pid namespace of `pid`. */
function pidsInNsOf(pid: number): number[] {
  const ns = fs.readlinkSync(`/proc/${pid}/ns/pid`);
  const out: number[] = [];
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.readlinkSync(`/proc/${p}/ns/pid`) === ns && alive(Number(p))) out.push(Number(p));
    } catch {
      // gone
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

describe.skipIf(lacks(isRoot))('lifecycle (root, real kernel)', () => {
  const sb = new Sandbox('tcr-life');
  afterAll(() => sb.cleanup());

  it('create → created (pid file written, pid matches) → start → running → kill → stopped → delete', () => {
    const pidFile = path.join(sb.dir, 'life.pid');
    const c = createContainer(sb, 'echo started; sleep 30', () => {}, ['--pid-file', pidFile]);
    expect(c.result.stdout).toBe('');
    expect(c.result.status).toBe(0);
    // the pid file exists as soon as create has returned
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(pid).toBeGreaterThan(1);
    const created = state(sb, c.id);
    expect(created).toMatchObject({ id: c.id, status: 'created', pid, bundle: c.bundle, ociVersion: expect.any(String) });
    expect(alive(pid)).toBe(true);
    // created: the process has not run yet
    expect(fs.readFileSync(c.file, 'utf8')).toBe('');

    const s = sb.tcr(['start', c.id]);
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    expect(state(sb, c.id)).toMatchObject({ status: 'running', pid });

    const k = sb.tcr(['kill', c.id, 'KILL']);
    expect(k.stderr).toBe('');
    expect(k.status).toBe(0);
    const after = state(sb, c.id);
    expect(after.status).toBe('stopped');
    expect(fs.readFileSync(c.file, 'utf8')).toBe('started\n');

    const d = sb.tcr(['delete', c.id]);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    expectNothingLeft(sb, c.id);
  });

  it.each(['KILL', 'SIGKILL', '9'])('kill accepts the signal as %s', async (sig) => {
    const c = runDetached(sb, 'sleep 30');
    const k = sb.tcr(['kill', c.id, sig]);
    expect(k.stderr).toBe('');
    expect(k.status).toBe(0);
    // kill(2) returns once the signal is sent; on a loaded machine the exit comes a little later
    await waitFor(() => !alive(c.pid), 10_000, 'the init gone');
    // a plain delete succeeds only for a stopped container
    const d = sb.tcr(['delete', c.id]);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    expectNothingLeft(sb, c.id);
  });

  it('kill defaults to SIGTERM (a trapping init sees it)', async () => {
    const c = runDetached(sb, 'trap "echo got-term; exit 4" TERM; echo ready; while :; do sleep 0.02; done');
    await waitFor(() => fs.readFileSync(c.file, 'utf8').includes('ready'), 5000, 'ready');
    expect(sb.tcr(['kill', c.id]).status).toBe(0);
    await waitFor(() => !alive(c.pid), 5000, 'init exit');
    expect(fs.readFileSync(c.file, 'utf8')).toBe('ready\ngot-term\n');
    expect(sb.tcr(['delete', c.id]).status).toBe(0);
  });

  it('run --detach returns at once with the container running', () => {
    const t0 = Date.now();
    const c = runDetached(sb, 'sleep 30');
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(alive(c.pid)).toBe(true);
    expect(state(sb, c.id)).toMatchObject({ status: 'running', pid: c.pid });
    expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    expect(alive(c.pid)).toBe(false);
    expectNothingLeft(sb, c.id);
  });

  it('run removes the container after it exits; run --keep keeps it recorded as stopped', () => {
    const gone = uniqueId('gone');
    const a = sb.tcr(['run', '--bundle', shBundle(sb, gone, 'echo bye'), gone]);
    expect(a.stdout).toBe('bye\n');
    expect(a.status).toBe(0);
    expectNothingLeft(sb, gone);

    const id = uniqueId('keep');
    const b = shBundle(sb, id, 'echo kept; exit 3');
    const r = sb.tcr(['run', '--keep', '--bundle', b, id]);
    expect(r.stdout).toBe('kept\n');
    expect(r.status).toBe(3);
    const st = state(sb, id);
    expect(st).toMatchObject({ id, status: 'stopped', pid: 0 });
    expect(sb.tcr(['delete', id]).status).toBe(0);
    expectNothingLeft(sb, id);
  });

  it("delete of a running container without --force fails with runc's message; --force kills and deletes", () => {
    const c = runDetached(sb, 'sleep 30');
    const d = sb.tcr(['delete', c.id]);
    expect(d.status).toBe(1);
    expect(d.stderr).toContain(`cannot delete container ${c.id} that is not stopped: running`);
    expect(state(sb, c.id).status).toBe('running');
    expect(alive(c.pid)).toBe(true);

    const f = sb.tcr(['delete', '--force', c.id]);
    expect(f.stderr).toBe('');
    expect(f.status).toBe(0);
    expect(alive(c.pid)).toBe(false);
    expectNothingLeft(sb, c.id);
  });

  it('delete of a created container (no --force) kills its init', () => {
    const c = createContainer(sb, 'sleep 30');
    expect(c.result.status).toBe(0);
    const pid = state(sb, c.id).pid as number;
    const d = sb.tcr(['delete', c.id]);
    expect(d.stderr).toBe('');
    expect(d.status).toBe(0);
    expect(alive(pid)).toBe(false);
    expectNothingLeft(sb, c.id);
  });

  it('state, kill, start and delete of a missing container fail with a message', () => {
    for (const args of [
      ['state', 'nosuch'],
      ['kill', 'nosuch', 'KILL'],
      ['start', 'nosuch'],
      ['delete', 'nosuch'],
    ]) {
      const r = sb.tcr(args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toMatch(/container nosuch does not exist/);
      expect(r.stdout).toBe('');
    }
    // runc: delete --force of a missing container succeeds quietly
    const f = sb.tcr(['delete', '--force', 'nosuch']);
    expect(f.status).toBe(0);
    expect(f.stderr).toBe('');
  });

  it('state of a deleted container exits 1 with a message', () => {
    const c = runDetached(sb, 'sleep 30');
    expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    const r = sb.tcr(['state', c.id]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`container ${c.id} does not exist`);
  });

  it('kill of a stopped container fails with "container not running"', () => {
    const c = runDetached(sb, 'sleep 30');
    expect(sb.tcr(['kill', c.id, 'KILL']).status).toBe(0);
    const r = sb.tcr(['kill', c.id, 'KILL']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('container not running');
    expect(sb.tcr(['delete', c.id]).status).toBe(0);
  });

  it('start twice fails; start of a stopped container fails', () => {
    const c = createContainer(sb, 'sleep 30');
    expect(c.result.status).toBe(0);
    expect(sb.tcr(['start', c.id]).status).toBe(0);
    const again = sb.tcr(['start', c.id]);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('cannot start an already running container');
    expect(sb.tcr(['kill', c.id, 'KILL']).status).toBe(0);
    const stopped = sb.tcr(['start', c.id]);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toContain('cannot start a container that has stopped');
    expect(sb.tcr(['delete', c.id]).status).toBe(0);
  });

  it('list prints json, a table and ids (--quiet)', () => {
    const a = createContainer(sb, 'sleep 30');
    expect(a.result.status).toBe(0);
    const b = runDetached(sb, 'sleep 30');
    const pa = state(sb, a.id).pid as number;

    const j = sb.tcr(['list', '--format', 'json']);
    expect(j.status).toBe(0);
    const list = JSON.parse(j.stdout) as Record<string, unknown>[];
    const byId = Object.fromEntries(list.map((s) => [s.id, s]));
    expect(byId[a.id]).toMatchObject({ id: a.id, status: 'created', pid: pa, bundle: a.bundle });
    expect(byId[b.id]).toMatchObject({ id: b.id, status: 'running', pid: b.pid, bundle: b.bundle });

    const t = sb.tcr(['list']);
    expect(t.status).toBe(0);
    const lines = t.stdout.trimEnd().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']);
    const rowA = lines.find((l) => l.startsWith(a.id + ' '))!.split(/\s+/);
    expect(rowA.slice(0, 4)).toEqual([a.id, String(pa), 'created', a.bundle]);
    const rowB = lines.find((l) => l.startsWith(b.id + ' '))!.split(/\s+/);
    expect(rowB.slice(0, 4)).toEqual([b.id, String(b.pid), 'running', b.bundle]);

    const q = sb.tcr(['list', '--quiet']);
    expect(q.status).toBe(0);
    const ids = q.stdout.trim().split('\n');
    expect(ids).toContain(a.id);
    expect(ids).toContain(b.id);
    expect(ids.every((i) => /^[\w+.-]+$/.test(i))).toBe(true);

    const bad = sb.tcr(['list', '--format', 'yaml']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('yaml');

    expect(sb.tcr(['delete', '--force', a.id, b.id]).status).toBe(0);
    expectNothingLeft(sb, a.id);
    expectNothingLeft(sb, b.id);
  });

  it('run exits 128+N when the init is killed by signal N from outside', async () => {
    const id = uniqueId('sig');
    const b = shBundle(sb, id, 'sleep 30');
    const run = spawnTcr(sb, ['run', '--bundle', b, id]);
    try {
      await waitFor(() => sb.tcr(['state', id]).stdout.includes('"running"'), 10_000, 'running');
      expect(sb.tcr(['kill', id, 'KILL']).status).toBe(0);
      const r = await run.done;
      expect(r.stderr).toBe('');
      expect(r.status).toBe(137);
      expectNothingLeft(sb, id);
    } finally {
      killPid(run.child.pid);
    }
  });

  it('forwards SIGTERM sent to a foreground `tcr run` to the container', async () => {
    const id = uniqueId('fwd');
    const b = shBundle(sb, id, 'trap "echo got-term; exit 5" TERM; echo ready; while :; do sleep 0.02; done');
    const run = spawnTcr(sb, ['run', '--bundle', b, id]);
    try {
      let out = '';
      run.child.stdout!.on('data', (d) => (out += d));
      await waitFor(() => out.includes('ready'), 10_000, 'ready');
      run.child.kill('SIGTERM');
      const r = await run.done;
      expect(r.stdout).toBe('ready\ngot-term\n');
      expect(r.status).toBe(5);
      expectNothingLeft(sb, id);
    } finally {
      killPid(run.child.pid);
    }
  });

  it('a signal that reaches a foreground `tcr run` while the container starts does not orphan it', async () => {
    for (let round = 0; round < 3; round++) {
      const id = uniqueId('early');
      const b = shBundle(sb, id, 'echo up; while :; do sleep 0.02; done');
      const run = spawnTcr(sb, ['run', '--bundle', b, id]);
      try {
        // the moment create has recorded the container, before its process runs
        await waitFor(() => fs.existsSync(path.join(sb.root, id, 'state.json')), 10_000, 'state.json', 1);
        run.child.kill('SIGTERM'); // pid 1 ignores an untrapped TERM: the container keeps running
        let out = '';
        run.child.stdout!.on('data', (d) => (out += d));
        await waitFor(() => out.includes('up'), 10_000, 'up');
        // tcr survived the signal and still owns the container
        expect(run.child.exitCode).toBe(null);
        expect(sb.tcr(['kill', id, 'KILL']).status).toBe(0);
        const r = await run.done;
        expect(r.status).toBe(137);
        expectNothingLeft(sb, id);
      } finally {
        killPid(run.child.pid);
      }
    }
  });

  it('a recorded pid now naming another process (other start time) reports "stopped" and is never signalled', async () => {
    const c = runDetached(sb, 'sleep 30');
    // a process of our own takes the place of the init in the record
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await waitFor(() => alive(other.pid!), 2000, 'sleep');
      const file = path.join(sb.root, c.id, 'state.json');
      const rec = JSON.parse(fs.readFileSync(file, 'utf8'));
      rec.pid = other.pid;
      rec.startTime = '1';
      fs.writeFileSync(file, JSON.stringify(rec));

      const st = state(sb, c.id);
      expect(st.status).toBe('stopped');
      expect(st.pid).toBe(0);
      const k = sb.tcr(['kill', c.id, 'KILL']);
      expect(k.status).toBe(1);
      expect(k.stderr).toContain('container not running');
      expect(sb.tcr(['delete', c.id]).status).toBe(0);
      expect(alive(other.pid!)).toBe(true);
    } finally {
      killPid(other.pid);
      killPid(c.pid); // the real init, orphaned by the edit
    }
  });

  it('concurrent start and delete on one id leave a consistent result', async () => {
    for (let i = 0; i < 3; i++) {
      const c = createContainer(sb, 'sleep 30');
      expect(c.result.status).toBe(0);
      const pid = state(sb, c.id).pid as number;
      const [s, d] = await Promise.all([spawnTcr(sb, ['start', c.id]).done, spawnTcr(sb, ['delete', c.id]).done]);
      if (d.status === 0) {
        // delete won: the created container is gone and start found nothing to start
        expect(s.status).toBe(1);
        expect(s.stderr).toMatch(/does not exist|has stopped/);
        expect(fs.existsSync(path.join(sb.root, c.id))).toBe(false);
        expect(alive(pid)).toBe(false);
      } else {
        // start won: delete refuses a running container, which stays intact
        expect(s.status).toBe(0);
        expect(d.stderr).toContain('that is not stopped: running');
        expect(state(sb, c.id)).toMatchObject({ status: 'running', pid });
        expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
      }
      expectNothingLeft(sb, c.id);
    }
  });

  it('concurrent kill and delete --force of one container: both succeed or report a clean error', async () => {
    const c = runDetached(sb, 'sleep 30');
    const [k, d] = await Promise.all([spawnTcr(sb, ['kill', c.id, 'KILL']).done, spawnTcr(sb, ['delete', '--force', c.id]).done]);
    expect(d.status).toBe(0);
    if (k.status !== 0) expect(k.stderr).toMatch(/does not exist|not running/);
    expect(alive(c.pid)).toBe(false);
    expectNothingLeft(sb, c.id);
  });

  it('kill --all signals every process of the container; plain kill only the init', async () => {
    const c = runDetached(sb, 'trap "echo term" TERM; sleep 31 & sleep 32 & echo ready; while :; do sleep 0.02; done');
    await waitFor(() => fs.readFileSync(c.file, 'utf8').includes('ready'), 5000, 'ready');
    const sleepers = () => pidsInNsOf(c.pid).filter((p) => /^sleep 3[12]$/.test(cmdline(p)));
    await waitFor(() => sleepers().length === 2, 5000, 'two sleepers');
    const before = sleepers();

    expect(sb.tcr(['kill', c.id, 'TERM']).status).toBe(0);
    await waitFor(() => fs.readFileSync(c.file, 'utf8').includes('term'), 5000, 'init trap');
    expect(before.every(alive)).toBe(true);

    const all = sb.tcr(['kill', '--all', c.id, 'TERM']);
    expect(all.stderr).toBe('');
    expect(all.status).toBe(0);
    await waitFor(() => !before.some(alive), 5000, 'sleepers gone');
    expect(alive(c.pid)).toBe(true); // the init traps TERM and lives on
    expect(state(sb, c.id).status).toBe('running');
    expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    expectNothingLeft(sb, c.id);
  });

  it('kill --all of a container whose init exited kills what is left in its cgroup (no pid namespace), exit 0 as runc', async () => {
    const c = runDetached(sb, 'sleep 33 & sleep 0.5; exit 0', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
    });
    await waitFor(() => !alive(c.pid), 5000, 'init exit');
    expect(state(sb, c.id).status).toBe('stopped');
    const left = fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p) && cmdline(Number(p)) === 'sleep 33')
      .map(Number)
      .filter((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').includes(c.id); // still in the container's cgroup
        } catch {
          return false;
        }
      });
    expect(left).toHaveLength(1);
    const k = sb.tcr(['kill', '--all', c.id, '9']);
    expect(k.stderr).toBe('');
    expect(k.status).toBe(0);
    await waitFor(() => !alive(left[0]), 5000, 'the orphan gone');
    expect(sb.tcr(['kill', c.id, '9']).status).toBe(1); // without --all: the init is not running
    expect(sb.tcr(['delete', c.id]).status).toBe(0);
    expectNothingLeft(sb, c.id);
  });

  it("start returns before the program runs: the program sees `start` already exited (a shim's OOM watch begins at that return)", async () => {
    const shared = path.join(sb.dir, `shared-${uniqueId()}`);
    fs.mkdirSync(shared);
    // no pid namespace: the container's /proc shows the host's processes, `start` among them
    const script = [
      'read p < /shared/startpid',
      'st=gone',
      '[ -e /proc/$p/status ] && while read k v rest; do [ "$k" = State: ] && st=$v; done < /proc/$p/status',
      'echo "start: $st"',
    ].join('; ');
    const c = createContainer(sb, script, (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'pid');
      s.mounts!.push({ destination: '/shared', type: 'bind', source: shared, options: ['rbind', 'ro'] });
    });
    expect(c.result.status).toBe(0);
    const start = spawnTcr(sb, ['start', c.id], 'ignore');
    fs.writeFileSync(path.join(shared, 'startpid'), String(start.child.pid)); // long before start reaches the fifo
    expect((await start.done).status).toBe(0);
    await waitFor(() => fs.readFileSync(c.file, 'utf8').includes('start: '), 10_000, 'the program');
    // Z: exited, not yet reaped by this test; gone: reaped. R or S: the program ran while start still did
    expect(fs.readFileSync(c.file, 'utf8')).toMatch(/^start: (Z|gone)$/m);
    expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    expectNothingLeft(sb, c.id);
  });
});
