// docker's read-only container commands on real containers: inspect (and
// container inspect, --format), wait, port on a bridge with a published
// port, and version/info, from a private state root and store.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { freePort, haveCni } from './network-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr inspect, wait, port', () => {
  const sb = new Sandbox('tcr-inspect');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  });
  const inspect = (...ids: string[]) => JSON.parse(tcr(['inspect', ...ids]).stdout) as Record<string, any>[];

  it('prints version and info without any container', () => {
    const v = tcr(['version', '--format', 'json']);
    expect(v.status).toBe(0);
    const parsed = JSON.parse(v.stdout) as { Runtime: { OciVersion: string; KernelVersion: string } };
    expect(parsed.Runtime.KernelVersion).toBe(fs.readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim());
    expect(tcr(['version']).stdout).toMatch(/^Client:\n Version: +\S+\n Node version: +v\d+/);
    const i = tcr(['info']);
    expect([i.status, i.stderr]).toEqual([0, '']);
    expect(i.stdout).toMatch(/^ Containers: +0$/m);
    expect(i.stdout).toMatch(/^ Images: +1$/m);
    expect(i.stdout).toContain(` Store Root:       ${store}\n`);
    expect(i.stdout).toMatch(/^ Cgroup Version: +[12]$/m);
    expect(i.stdout).toMatch(new RegExp(`^ CPUs: +${os.cpus().length}$`, 'm'));
  });

  it("inspects a running container in docker's shape, and --format reads its fields", () => {
    const bind = path.join(sb.dir, 'bind');
    fs.mkdirSync(bind);
    const d = tcr([
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      'up',
      '-e',
      'A=1',
      '-w',
      '/tmp',
      '-m',
      '64m',
      '-v',
      `${bind}:/b:ro`,
      '-v',
      'vol:/v',
      'busybox',
      'sleep',
      '60',
    ]);
    expect(d.stderr).toBe('');
    const [c] = inspect('up');
    expect(c).toMatchObject({
      Id: 'up',
      Name: '/up',
      Path: 'sleep',
      Args: ['60'],
      Image: 'busybox',
      State: { Status: 'running', Running: true, Paused: false, ExitCode: 0 },
      Config: { Hostname: 'up', Cmd: ['sleep', '60'], Entrypoint: null, WorkingDir: '/tmp' },
      HostConfig: { NetworkMode: 'none', Memory: 64 << 20, Binds: [`${bind}:/b:ro`, 'vol:/v'] },
      Mounts: [
        { Type: 'bind', Source: bind, Destination: '/b', RW: false },
        { Type: 'volume', Name: 'vol', Source: path.join(store, 'volumes', 'vol', '_data'), Destination: '/v', RW: true },
      ],
      NetworkSettings: { IPAddress: '', Ports: {}, Networks: {} },
    });
    expect(c.Config.Env).toContain('A=1');
    expect(tcr(['info', '-f', '{{.ContainersRunning}} {{.ContainersStopped}}']).stdout).toBe('1 0\n');
    // the pid is the init's, which ps ID lists too
    expect(JSON.parse(tcr(['ps', '--format', 'json', 'up']).stdout)).toContain(c.State.Pid);
    const f = tcr(['inspect', '-f', '{{.State.Status}} {{.State.Pid}} {{json .Config.Cmd}}', 'up']);
    expect(f.stdout).toBe(`running ${c.State.Pid} ["sleep","60"]\n`);
    expect(tcr(['container', 'inspect', '--format', '{{.Name}}', 'up']).stdout).toBe('/up\n');
    const bad = tcr(['inspect', '-f', '{{.State.Nope}}', 'up']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringContaining("can't evaluate field Nope")]);
    expect(tcr(['rm', '-f', 'up']).status).toBe(0);
  });

  it("waits for a running container's exit, then prints its code; a stopped one's at once", async () => {
    // a foreground run that keeps the container records the status it waited for
    const run = spawn(TCR, [
      '--root',
      sb.root,
      '--store',
      store,
      'run',
      '--network',
      'none',
      '--name',
      'w7',
      'busybox',
      'sh',
      '-c',
      'sleep 1; exit 7',
    ]);
    const runEnd = new Promise<number | null>((r) => run.on('exit', r));
    for (let i = 0; i < 100 && tcr(['inspect', '-f', '{{.State.Status}}', 'w7']).stdout !== 'running\n'; i++)
      await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    const wait = spawn(TCR, ['--root', sb.root, 'wait', 'w7']);
    let out = '';
    wait.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const status = await new Promise<number | null>((r) => wait.on('exit', r));
    expect([status, out]).toEqual([0, '7\n']);
    expect(Date.now() - t0).toBeGreaterThan(200); // it did block until the exit
    expect(await runEnd).toBe(7);
    expect(tcr(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'w7']).stdout).toBe('exited 7\n');
    expect(inspect('w7')[0].State.FinishedAt).not.toBe('0001-01-01T00:00:00Z');
    // again, two at once: one line each, in order
    expect(tcr(['run', '--network', 'none', '--name', 'w0', 'busybox', 'true']).status).toBe(0);
    const again = tcr(['wait', 'w7', 'w0']);
    expect([again.status, again.stdout]).toEqual([0, '7\n0\n']);
  });

  it('waits for a -d container too, whose status its monitor records', async () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'bg', 'busybox', 'sleep', '60']).status).toBe(0);
    const wait = spawn(TCR, ['--root', sb.root, 'wait', 'bg']);
    let out = '';
    let err = '';
    wait.stdout.on('data', (b: Buffer) => (out += b.toString()));
    wait.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const end = new Promise<number | null>((r) => wait.on('exit', r));
    await new Promise((r) => setTimeout(r, 500));
    expect(wait.exitCode).toBeNull(); // still blocked on the running init
    expect(tcr(['kill', 'bg', 'KILL']).status).toBe(0);
    expect([await end, out, err]).toEqual([0, '137\n', '']);
    expect(tcr(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'bg']).stdout).toBe('exited 137\n');
    expect(tcr(['rm', 'bg']).status).toBe(0);
  });

  it('names a container that is not there, exit 1, and still does the others', () => {
    const i = tcr(['inspect', 'w7', 'nosuch']);
    expect([i.status, i.stderr]).toEqual([1, 'tcr: No such object: nosuch\n']);
    expect((JSON.parse(i.stdout) as { Id: string }[]).map((c) => c.Id)).toEqual(['w7']);
    const w = tcr(['wait', 'nosuch', 'w7']);
    expect([w.status, w.stdout, w.stderr]).toEqual([1, '7\n', 'tcr: No such container: nosuch\n']);
    const p = tcr(['port', 'nosuch']);
    expect([p.status, p.stderr]).toEqual([1, 'tcr: No such container: nosuch\n']);
  });

  it.skipIf(lacks(haveCni))("prints a bridge container's published port as docker port does", async () => {
    const port = await freePort();
    const d = tcr(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    expect(d.stderr).toBe('');
    try {
      expect(tcr(['port', 'web']).stdout).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
      expect(tcr(['port', 'web', '80/tcp']).stdout).toBe(`127.0.0.1:${port}\n`);
      const none = tcr(['port', 'web', '81']);
      expect([none.status, none.stderr]).toEqual([1, "tcr: No public port '81/tcp' published for web\n"]);
      const [c] = inspect('web');
      expect(c.HostConfig.PortBindings).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
      expect(c.NetworkSettings.Ports).toEqual(c.HostConfig.PortBindings);
      expect(c.NetworkSettings.IPAddress).toMatch(/^10\.89\.0\.\d+$/);
      expect(c.NetworkSettings.Networks.bridge).toMatchObject({ IPAddress: c.NetworkSettings.IPAddress, Gateway: '10.89.0.1' });
    } finally {
      expect(tcr(['rm', '-f', 'web']).status).toBe(0);
    }
  });
});
