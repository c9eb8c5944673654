// Issue 3 on this host (v1/hybrid): each limit is enforced, not just written.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import type { Spec } from '../../src/spec/types.js';

const PARENT = `tcr-cgtest-${process.pid}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
// a detached container keeps the stdio it was given: hand it none, or spawnSync waits for it
const detached = { stdio: 'ignore' as const };

/** Running, as opposed to gone or a zombie waiting for its parent to reap it. */
function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe.skipIf(lacks(isRoot) || fs.existsSync('/sys/fs/cgroup/cgroup.controllers'))('cgroups on a v1/hybrid host', () => {
  const sb = new Sandbox('tcr-cg');
  let n = 0;
  afterAll(() => {
    sb.cleanup();
    for (const h of fs.readdirSync('/sys/fs/cgroup')) {
      try {
        fs.rmdirSync(path.join('/sys/fs/cgroup', h, PARENT));
      } catch {
        // never made in this hierarchy
      }
    }
  });

  /** A bundle whose cgroup sits under this file's own parent, with `edit` applied. */
  function bundle(args: string[], edit: (s: Spec) => void = () => {}): { id: string; dir: string } {
    const id = `cg${n++}`;
    const dir = sb.bundle(id, (s) => {
      s.process!.args = args;
      s.root!.readonly = false;
      s.linux!.cgroupsPath = `/${PARENT}/${id}`;
      edit(s);
    });
    return { id, dir };
  }

  const cg = (hier: string, id: string, file: string) => path.join('/sys/fs/cgroup', hier, PARENT, id, file);

  it('places the container in its cgroup in every hierarchy', () => {
    const { id, dir } = bundle(['cat', '/proc/self/cgroup']);
    const r = sb.tcr(['run', '--bundle', dir, id]);
    expect(r.status).toBe(0);
    for (const h of ['memory', 'pids', 'cpu', 'freezer', 'devices']) expect(r.stdout).toMatch(new RegExp(`:${h}:/${PARENT}/${id}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^0::/${PARENT}/${id}$`, 'm'));
    // removed once the container is gone
    expect(fs.existsSync(cg('memory', id, ''))).toBe(false);
  });

  it('OOM-kills a process above memory.limit and `events` reports it', async () => {
    const { id, dir } = bundle(['sh', '-c', 'head -c 300000000 /dev/zero | tail > /dev/null; echo rc=$?'], (s) => {
      s.linux!.resources = { memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 } };
    });
    expect(sb.tcr(['create', '--bundle', dir, id], detached).status).toBe(0);
    expect(fs.readFileSync(cg('memory', id, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(32 * 1024 * 1024));
    const events = spawn(TCR, ['--root', sb.root, 'events', '--interval', '10s', id]);
    let out = '';
    events.stdout.on('data', (d) => (out += d));
    const done = new Promise((r) => events.on('exit', r));
    // start only once events runs (its first stats line): it must see the OOM happen
    for (let i = 0; i < 300 && !out.includes('\n'); i++) await sleep(20);
    expect(sb.tcr(['start', id]).status).toBe(0);
    await done;
    const lines = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0].type).toBe('stats');
    expect(lines.some((l) => l.type === 'oom' && l.id === id)).toBe(true);
  });

  it('stops a fork bomb at pids.max', () => {
    // the bomb runs in a child shell (a failed fork ends a shell); the count uses builtins only
    // counted a second after the bomb's shell died: forked children still on their way to exec `sleep`
    // (many, on a loaded machine) are counted as sleeps then, not as shells
    const bomb =
      'sh -c \'while :; do sleep 5 & done\' 2>/dev/null; sleep 1; n=0; for p in /proc/[0-9]*; do read c < $p/comm; [ "$c" = sleep ] && n=$((n+1)); done; echo $n';
    const { id, dir } = bundle(['sh', '-c', bomb], (s) => {
      s.linux!.resources = { pids: { limit: 12 } };
    });
    const r = sb.tcr(['run', '--keep', '--bundle', dir, id]);
    // the two shells take two of the twelve; a fork in flight may hold a slot or two
    const sleeps = Number(r.stdout.trim());
    expect(sleeps).toBeGreaterThanOrEqual(6);
    expect(sleeps).toBeLessThanOrEqual(10);
    // and the kernel refused forks at the limit
    expect(Number(/max (\d+)/.exec(fs.readFileSync(cg('pids', id, 'pids.events'), 'utf8'))![1])).toBeGreaterThan(0);
    expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
  });

  it('gives a CPU-bound loop about half a core under a 50000/100000 quota', async () => {
    const { id, dir } = bundle(['sh', '-c', 'while :; do :; done'], (s) => {
      s.linux!.resources = { cpu: { quota: 50000, period: 100000 } };
    });
    expect(sb.tcr(['run', '--detach', '--bundle', dir, id], detached).status).toBe(0);
    const usage = () => Number(fs.readFileSync(cg('cpuacct', id, 'cpuacct.usage'), 'utf8'));
    await sleep(300);
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await sleep(2000);
    const cpu = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
    expect(cpu).toBeGreaterThan(0.3);
    expect(cpu).toBeLessThan(0.6);
  });

  it('denies a device the rules do not allow, allows it with a rule', () => {
    const kmsg = { type: 'c' as const, path: '/dev/kmsg', major: 1, minor: 11, fileMode: 0o600 };
    const script = ['sh', '-c', 'echo tcr-device-test > /dev/kmsg && echo written'];
    const denied = bundle(script, (s) => {
      s.linux!.devices = [kmsg];
    });
    const r1 = sb.tcr(['run', '--bundle', denied.dir, denied.id]);
    expect(r1.stderr).toMatch(/Operation not permitted/);
    expect(r1.stdout).not.toMatch(/written/);
    const allowed = bundle(script, (s) => {
      s.linux!.devices = [kmsg];
      s.linux!.resources = {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
        ],
      };
    });
    const r2 = sb.tcr(['run', '--bundle', allowed.dir, allowed.id]);
    expect(r2.stdout).toMatch(/written/);
    expect(fs.existsSync(cg('devices', allowed.id, ''))).toBe(false);
  });

  it('pause stops progress, resume continues it, state shows paused', async () => {
    const { id, dir } = bundle([
      'sh',
      '-c',
      'i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; usleep 20000; done',
    ]);
    expect(sb.tcr(['run', '--detach', '--bundle', dir, id], detached).status).toBe(0);
    // written by rename, so a read never sees a half-written file
    const count = () => Number(fs.readFileSync(path.join(dir, 'rootfs/tmp/count'), 'utf8'));
    await sleep(300);
    expect(sb.tcr(['pause', id]).status).toBe(0);
    expect(JSON.parse(sb.tcr(['state', id]).stdout).status).toBe('paused');
    const c1 = count();
    await sleep(400);
    expect(count()).toBe(c1);
    expect(sb.tcr(['resume', id]).status).toBe(0);
    expect(JSON.parse(sb.tcr(['state', id]).stdout).status).toBe('running');
    await sleep(400);
    expect(count()).toBeGreaterThan(c1 + 3);
    expect(sb.tcr(['resume', id]).stderr).toMatch(/not paused/);
    // a paused container can be force-deleted: its processes are thawed to die
    expect(sb.tcr(['pause', id]).status).toBe(0);
    const pids = JSON.parse(sb.tcr(['ps', '--format', 'json', id]).stdout) as number[];
    expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
    expect(fs.existsSync(cg('freezer', id, ''))).toBe(false);
    for (const p of pids) expect(alive(p)).toBe(false);
  });

  it('ps lists the container processes, kill --all signals each of them', async () => {
    const { id, dir } = bundle(['sh', '-c', 'sleep 100 & sleep 100 & wait']);
    expect(sb.tcr(['run', '--detach', '--bundle', dir, id], detached).status).toBe(0);
    await sleep(200);
    const pids = JSON.parse(sb.tcr(['ps', '--format', 'json', id]).stdout) as number[];
    expect(pids.length).toBe(3);
    const table = sb.tcr(['ps', id]).stdout;
    expect(table.split('\n')[0]).toMatch(/PID/);
    expect(table.match(/ sleep 100$/gm)?.length).toBe(2);
    expect(sb.tcr(['kill', '--all', id, 'KILL']).status).toBe(0);
    await sleep(200);
    expect(JSON.parse(sb.tcr(['state', id]).stdout).status).toBe('stopped');
    for (const p of pids) expect(alive(p)).toBe(false);
    expect(sb.tcr(['delete', id]).status).toBe(0);
  });

  it('update changes limits, events --stats reports them, bad values name the file', async () => {
    const { id, dir } = bundle(['sleep', '100'], (s) => {
      s.linux!.resources = { memory: { limit: 64 * 1024 * 1024 } };
    });
    expect(sb.tcr(['run', '--detach', '--bundle', dir, id], detached).status).toBe(0);
    expect(sb.tcr(['update', '--memory', '128m', '--pids-limit', '50', '--cpu-quota', '20000', id]).status).toBe(0);
    expect(fs.readFileSync(cg('memory', id, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(128 * 1024 * 1024));
    expect(fs.readFileSync(cg('pids', id, 'pids.max'), 'utf8').trim()).toBe('50');
    expect(fs.readFileSync(cg('cpu', id, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
    const stats = JSON.parse(sb.tcr(['events', '--stats', id]).stdout);
    expect(stats.type).toBe('stats');
    expect(stats.data.memory.usage.limit).toBe(128 * 1024 * 1024);
    expect(stats.data.pids).toEqual({ current: 1, limit: 50 });
    const bad = sb.tcr(['update', '--memory', '4k', id]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('memory.limit_in_bytes');
    const badCpus = sb.tcr(['update', '--cpuset-cpus', '64', id]);
    expect(badCpus.status).toBe(1);
    expect(badCpus.stderr).toContain('cpuset.cpus');
    expect(sb.tcr(['update', '--pids-limit', '-5', id]).stderr).toContain('pids.limit: -5 must be an integer, -1 for no limit');
    // update -r is checked as create checks linux.resources: nothing of a bad file is applied
    const badRules = sb.tcr(['update', '-r', '-', id], {
      input: JSON.stringify({ memory: { limit: 32 * 1024 * 1024 }, devices: [{ allow: true, type: 'x', access: 'rwm' }] }),
    });
    expect(badRules.status).toBe(1);
    expect(badRules.stderr).toContain('--resources -: devices[0].type: unknown device type "x"');
    const badCpuList = sb.tcr(['update', '-r', '-', id], { input: JSON.stringify({ cpu: { cpus: 'zero' } }) });
    expect(badCpuList.stderr).toContain('--resources -: cpu.cpus: "zero" is not a list');
    // the limits from before the failed updates still hold
    expect(fs.readFileSync(cg('memory', id, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(128 * 1024 * 1024));
    const r = { memory: { limit: 96 * 1024 * 1024 } };
    expect(sb.tcr(['update', '-r', '-', id], { input: JSON.stringify(r) }).status).toBe(0);
    expect(fs.readFileSync(cg('memory', id, 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(96 * 1024 * 1024));
    expect(sb.tcr(['delete', '--force', id]).status).toBe(0);
  });

  it('a limit the kernel rejects at create fails naming the file, and leaves no cgroup', () => {
    const { id, dir } = bundle(['true'], (s) => {
      s.linux!.resources = { cpu: { cpus: '64-65' } };
    });
    const r = sb.tcr(['create', '--bundle', dir, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cpuset.cpus');
    expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
    for (const h of ['cpuset', 'memory', 'pids']) expect(fs.existsSync(cg(h, id, ''))).toBe(false);
    const badType = bundle(['true'], (s) => {
      s.linux!.resources = { devices: [{ allow: true, type: 'x', access: 'rwm' }] };
    });
    const r2 = sb.tcr(['create', '--bundle', badType.dir, badType.id]);
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('linux.resources.devices[0].type');
  });
});
