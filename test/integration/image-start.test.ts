// docker's create, start, restart and attach of image containers
// (src/run/image-start.ts), and runc's create and start of a bundle beside
// them, unchanged.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks, mountsUnder } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('create, start, restart, attach of image containers', () => {
  const sb = new Sandbox('tcr-start');
  const store = path.join(sb.dir, 'store');
  const net = (args: string[]) =>
    (args[0] === 'run' || args[0] === 'create') && !args.includes('--network') ? [args[0], '--network', 'none', ...args.slice(1)] : args;
  const tcr = (args: string[], opts = {}) =>
    sb.tcr(['--store', store, ...net(args)], { stdio: ['ignore', 'pipe', 'pipe'], cwd: sb.dir, ...opts });
  // runc's commands as an engine types them: no --network added
  const runc = (args: string[], opts = {}) =>
    sb.tcr(['--store', store, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: sb.dir, ...opts });
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  const inspect = (id: string, f: string) => tcr(['inspect', '-f', f, id]).stdout.trim();
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of containers()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('create makes a container that start -a runs, and start runs again with the same root filesystem', () => {
    const count = 'echo run >> /runs; wc -l < /runs; echo err >&2; exit 4';
    const c = tcr(['create', '--name', 'made', 'busybox', 'sh', '-c', count]);
    expect([c.status, c.stdout, c.stderr]).toEqual([0, 'made\n', '']);
    expect(inspect('made', '{{.State.Status}} {{.State.ExitCode}} {{.State.FinishedAt}}')).toBe('created 0 0001-01-01T00:00:00Z');
    const first = tcr(['start', '-a', 'made']);
    expect([first.status, first.stdout, first.stderr]).toEqual([4, '1\n', 'err\n']);
    expect(inspect('made', '{{.State.Status}} {{.State.ExitCode}}')).toBe('exited 4');
    const again = tcr(['start', 'made']);
    expect([again.status, again.stdout]).toEqual([0, 'made\n']);
    expect(tcr(['wait', 'made']).stdout).toBe('4\n');
    expect(tcr(['logs', 'made']).stdout).toBe('1\n2\n');
    expect(mountsUnder(path.join(store, 'containers', 'made'))).toEqual([]);
    expect(tcr(['rm', 'made']).status).toBe(0);
    expect(containers()).toEqual([]);
  });

  it('create refuses what run refuses, and leaves nothing', () => {
    const r = tcr(['create', '--restart', 'always', '--rm', 'busybox', 'true']);
    expect([r.status, r.stderr]).toEqual([125, expect.stringMatching(/--restart always with --rm/)]);
    const t = tcr(['create', '--restart', 'always', '--health-cmd', 'true', '--rm', '-t', 'busybox', 'true']);
    expect([t.status, t.stderr]).toEqual([125, expect.stringMatching(/--restart always with --rm/)]);
    expect(containers()).toEqual([]);
  });

  it('start of a stopped foreground-run container runs it again, detached, through a monitor', () => {
    const r = tcr(['run', '--name', 'fg', 'busybox', 'sh', '-c', 'echo x >> /f; wc -l < /f']);
    expect([r.status, r.stdout]).toEqual([0, '1\n']);
    expect(tcr(['start', 'fg']).stdout).toBe('fg\n');
    expect(tcr(['wait', 'fg']).stdout).toBe('0\n');
    expect(tcr(['logs', 'fg']).stdout).toBe('1\n2\n'); // the foreground run's output, then the start's (docker keeps both)
    expect(tcr(['rm', 'fg']).status).toBe(0);
    expect(containers()).toEqual([]);
  });

  it('restart stops a running container and starts it again; start of a running one lets it be', () => {
    expect(tcr(['run', '-d', '--name', 'svc', 'busybox', 'sh', '-c', 'echo up; exec sleep 60']).status).toBe(0);
    const before = Number(inspect('svc', '{{.State.Pid}}'));
    expect(tcr(['start', 'svc']).stdout).toBe('svc\n');
    expect(Number(inspect('svc', '{{.State.Pid}}'))).toBe(before);
    const r = tcr(['restart', '-t', '1', 'svc']);
    expect([r.status, r.stdout]).toEqual([0, 'svc\n']);
    const after = Number(inspect('svc', '{{.State.Pid}}'));
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(before);
    expect(inspect('svc', '{{.State.Status}}')).toBe('running');
    expect(tcr(['logs', 'svc']).stdout).toBe('up\nup\n');
    expect(tcr(['rm', '-f', 'svc']).status).toBe(0);
  });

  it('attach prints the output from now on and exits with the status; a stopped container is refused', async () => {
    const script = 'echo before; read x < /tmp/go 2>/dev/null; for i in 1 2; do sleep 0.3; echo tick $i; done; exit 5';
    expect(tcr(['run', '-d', '--name', 'att', 'busybox', 'sh', '-c', `mkfifo /tmp/go; ${script}`]).status).toBe(0);
    for (let i = 0; i < 100 && !tcr(['logs', 'att']).stdout.includes('before'); i++) await sleep(50);
    const child = spawn(TCR, ['--root', sb.root, '--store', store, 'attach', 'att'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    const status = new Promise<number | null>((r) => child.on('close', r));
    await sleep(500); // attached before the container goes on
    const pid = Number(inspect('att', '{{.State.Pid}}'));
    fs.writeFileSync(`/proc/${pid}/root/tmp/go`, 'go\n');
    expect(await status).toBe(5);
    expect(output).toBe('tick 1\ntick 2\n');
    const stopped = tcr(['attach', 'att']);
    expect([stopped.status, stopped.stderr]).toEqual([125, expect.stringMatching(/cannot attach to a stopped container/)]);
    expect(tcr(['rm', 'att']).status).toBe(0);
  });

  it("runc's create and start of a bundle are unchanged, by --bundle and from its directory", () => {
    const b = sb.bundle('bundle1', (s) => (s.process!.args = ['sleep', '30']));
    expect(runc(['create', '--bundle', b, 'rc1'], { stdio: 'ignore' }).status).toBe(0);
    expect(JSON.parse(runc(['state', 'rc1']).stdout).status).toBe('created');
    expect(runc(['start', 'rc1'], { stdio: 'ignore' }).status).toBe(0);
    expect(JSON.parse(runc(['state', 'rc1']).stdout).status).toBe('running');
    const again = runc(['start', 'rc1']);
    expect([again.status, again.stderr]).toEqual([1, expect.stringMatching(/cannot start an already running container/)]);
    const r = runc(['restart', 'rc1']);
    expect([r.status, r.stderr]).toEqual([125, expect.stringMatching(/not a container of tcr run or create IMAGE/)]);
    expect(runc(['delete', '-f', 'rc1']).status).toBe(0);
    // the flags after the id, and the bundle from the working directory
    expect(runc(['create', 'rc2', '--bundle', b], { stdio: 'ignore' }).status).toBe(0);
    expect(runc(['delete', '-f', 'rc2']).status).toBe(0);
    expect(runc(['create', 'rc3'], { stdio: 'ignore', cwd: b }).status).toBe(0);
    expect(JSON.parse(runc(['state', 'rc3']).stdout).bundle).toBe(b);
    expect(runc(['delete', '-f', 'rc3']).status).toBe(0);
    expect(containers()).toEqual([]);
  });
});
