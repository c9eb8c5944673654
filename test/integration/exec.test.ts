// `tcr exec`: a process in every namespace and the cgroup of a running container.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, TCR, isRoot, lacks } from '../helpers.js';

const detached = { stdio: 'ignore' as const };

describe.skipIf(lacks(isRoot))('tcr exec', () => {
  const sb = new Sandbox('tcr-exec');
  const id = 'ex';
  let initPid = 0;
  beforeAll(() => {
    const b = sb.bundle(id, (s) => {
      s.process!.args = ['sleep', '300'];
      s.process!.env = [...(s.process!.env ?? []), 'FROM_CONFIG=yes'];
    });
    expect(sb.tcr(['run', '--detach', '--pid-file', path.join(sb.dir, 'init.pid'), '--bundle', b, id], detached).status).toBe(0);
    initPid = Number(fs.readFileSync(path.join(sb.dir, 'init.pid'), 'utf8'));
  });
  afterAll(() => sb.cleanup());

  it("joins the container's namespaces and cgroup and returns the exit code", () => {
    const r = sb.tcr([
      'exec',
      id,
      'sh',
      '-c',
      'echo pid=$$ host=$(hostname); for n in pid mnt net; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; exit 42',
    ]);
    expect(r.status).toBe(42);
    expect(r.stdout).toMatch(/^pid=\d+ host=tcr-demo$/m);
    expect(Number(/pid=(\d+)/.exec(r.stdout)![1])).toBeGreaterThan(1); // the init is 1
    for (const ns of ['pid', 'mnt', 'net']) expect(r.stdout).toContain(fs.readlinkSync(`/proc/${initPid}/ns/${ns}`));
    expect(r.stdout).toMatch(new RegExp(`:memory:/tcr/${id}$`, 'm'));
  });

  it("runs with the container's process settings, flags over them", () => {
    const r = sb.tcr([
      'exec',
      '--user',
      '1000:1001',
      '--env',
      'EXTRA=1',
      '--cwd',
      '/tmp',
      id,
      'sh',
      '-c',
      'id -u; id -g; pwd; echo $FROM_CONFIG $EXTRA; grep -E "^(CapEff|NoNewPrivs)" /proc/self/status',
    ]);
    expect(r.stdout.split('\n').slice(0, 4)).toEqual(['1000', '1001', '/tmp', 'yes 1']);
    expect(r.stdout).toMatch(/NoNewPrivs:\s+1/); // the demo config sets noNewPrivileges
    const withCap = sb.tcr(['exec', '--cap', 'CAP_NET_ADMIN', id, 'grep', 'CapEff', '/proc/self/status']);
    expect(withCap.stdout).toMatch(/CapEff:\s+0000000020001420/);
  });

  it('takes the whole process from --process', () => {
    const file = path.join(sb.dir, 'process.json');
    fs.writeFileSync(
      file,
      JSON.stringify({ args: ['sh', '-c', 'echo $ONLY; pwd'], env: ['ONLY=this', 'PATH=/bin'], cwd: '/etc', user: { uid: 0, gid: 0 } }),
    );
    const r = sb.tcr(['exec', '--process', file, id]);
    expect(r.stdout).toBe('this\n/etc\n');
  });

  it('--detach returns at once with the pid in --pid-file; the process is in the container', async () => {
    const pidFile = path.join(sb.dir, 'exec.pid');
    expect(sb.tcr(['exec', '--detach', '--pid-file', pidFile, id, 'sleep', '30'], detached).status).toBe(0);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(fs.readlinkSync(`/proc/${pid}/ns/pid`)).toBe(fs.readlinkSync(`/proc/${initPid}/ns/pid`));
    const pids = JSON.parse(sb.tcr(['ps', '--format', 'json', id]).stdout) as number[];
    expect(pids).toContain(pid);
    process.kill(pid, 'SIGKILL');
  });

  it('gives a terminal with --tty', () => {
    const r = spawnSync('script', ['-qec', `${TCR} --root ${sb.root} exec --tty ${id} sh -c 'tty; exit 3'`, '/dev/null'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stdout).toMatch(/\/dev\/pts\/\d+/);
    expect(r.status).toBe(3);
  });

  it("fails clearly, with runc's exit status 255, for a missing command, a stopped and an unknown container", () => {
    const r = sb.tcr(['exec', id, 'no-such-command']);
    expect(r.status).toBe(255);
    expect(r.stderr).toMatch(/exec: "no-such-command": executable file not found/);
    // as containerd's shim calls it for the kubelet's ExecSync: --process FILE --detach --pid-file
    const proc = path.join(sb.dir, 'exec-process.json');
    fs.writeFileSync(proc, JSON.stringify({ args: ['/no/such/program'], cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 } }));
    const shim = sb.tcr(
      [
        '--log',
        path.join(sb.dir, 'exec-log.json'),
        '--log-format',
        'json',
        'exec',
        '--process',
        proc,
        '--detach',
        '--pid-file',
        path.join(sb.dir, 'exec.pid'),
        id,
      ],
      detached,
    );
    expect(shim.status).toBe(255);
    expect(fs.readFileSync(path.join(sb.dir, 'exec-log.json'), 'utf8')).toMatch(/"level":"error".*no\/such\/program/);
    const b = sb.bundle('gone', (s) => {
      s.process!.args = ['true'];
    });
    expect(sb.tcr(['run', '--keep', '--bundle', b, 'gone']).status).toBe(0);
    const r2 = sb.tcr(['exec', 'gone', 'true']);
    expect(r2.status).toBe(255);
    expect(r2.stderr).toMatch(/cannot exec in a stopped container/);
    expect(sb.tcr(['exec', 'no-such-container', 'true']).status).toBe(255);
    // the process' own status 1 stays 1
    expect(sb.tcr(['exec', id, 'sh', '-c', 'exit 1']).status).toBe(1);
  });

  it('joins a user namespace container as root of that namespace', () => {
    fs.chmodSync(sb.dir, 0o755); // the container's root is host uid 200000: it must reach the rootfs
    const b = sb.bundle('userns', (s) => {
      s.process!.args = ['sleep', '300'];
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    });
    expect(sb.tcr(['run', '--detach', '--bundle', b, 'userns'], detached).status).toBe(0);
    const r = sb.tcr(['exec', 'userns', 'sh', '-c', 'id -u; cat /proc/self/uid_map']);
    expect(r.stdout).toMatch(/^0\n\s*0\s+200000\s+65536/);
  });
});
