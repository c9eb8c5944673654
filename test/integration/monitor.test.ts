// The monitor of a `run -d` container (src/run/monitor.ts): it is the init's
// parent, so wait and inspect know the exit status; a failed launch leaves
// nothing, with docker's status; killed, it leaves the container running;
// its json-file log read back by `tcr logs`; --restart.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { dropBridge, freeSubnet, haveCni } from './network-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The processes whose command line names `tcr-monitor ID` (process.title) or `monitor ID`. */
function monitorsOf(id: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return cmd[0] === `tcr-monitor ${id}` || (cmd.includes('monitor') && cmd[cmd.length - 2] === id);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function parentOf(pid: number): number {
  return Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

async function until(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('the monitor of run -d', () => {
  const sb = new Sandbox('tcr-mon');
  const store = path.join(sb.dir, 'store');
  const offline = (args: string[]) =>
    args[0] === 'run' && !args.includes('--network') ? ['run', '--network', 'none', ...args.slice(1)] : args;
  const tcr = (args: string[], opts = {}) => sb.tcr(['--store', store, ...offline(args)], { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  const inspect = (id: string, f: string) => tcr(['inspect', '-f', f, id]).stdout.trim();
  const pidOf = (id: string) => Number(inspect(id, '{{.State.Pid}}'));
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of containers()) tcr(['rm', '-f', id]);
    for (const id of containers()) for (const pid of monitorsOf(id)) process.kill(pid, 'SIGKILL');
    sb.cleanup();
  });

  it('launches the container as its child, then records the exit for wait and inspect', async () => {
    const r = tcr(['run', '-d', '--name', 'm1', 'busybox', 'sh', '-c', 'sleep 1; exit 7']);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, 'm1\n', '']);
    const init = pidOf('m1');
    expect(init).toBeGreaterThan(0);
    const monitors = monitorsOf('m1');
    expect(monitors).toHaveLength(1);
    expect(parentOf(init)).toBe(monitors[0]);
    // its own session, its working directory /
    expect(fs.readFileSync(`/proc/${monitors[0]}/stat`, 'utf8').split(') ')[1].split(' ')[3]).toBe(String(monitors[0]));
    expect(fs.readlinkSync(`/proc/${monitors[0]}/cwd`)).toBe('/');
    expect(fs.readFileSync(`/proc/${monitors[0]}/environ`, 'utf8')).not.toMatch(/NODE_EXTRA_CA_CERTS/);
    const w = tcr(['wait', 'm1']);
    expect([w.stdout, w.stderr]).toEqual(['7\n', '']);
    expect(inspect('m1', '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}')).toBe('exited 7');
    const finished = Date.parse(inspect('m1', '{{.State.FinishedAt}}'));
    expect(Math.abs(Date.now() - finished)).toBeLessThan(60_000);
    await until('the monitor exits', () => monitorsOf('m1').length === 0);
    expect(mountsUnder(path.join(store, 'containers', 'm1'))).toEqual([]);
    expect(tcr(['rm', 'm1']).status).toBe(0);
    expect(containers()).toEqual([]);
  });

  it("a launch that fails exits with docker's status and the launch's error, and leaves nothing", () => {
    const missing = tcr(['run', '-d', '--name', 'bad1', 'busybox', '/no/such/program']);
    expect(missing.stderr).toMatch(/"\/no\/such\/program": executable file not found/);
    expect([missing.status, missing.stdout]).toEqual([127, '']);
    const notExecutable = tcr(['run', '-d', '--name', 'bad2', 'busybox', '/etc/passwd']);
    expect(notExecutable.stderr).toMatch(/"\/etc\/passwd"/);
    expect(notExecutable.status).toBe(126);
    expect(containers()).toEqual([]);
    expect(fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((f) => !f.startsWith('.')) : []).toEqual([]);
    expect([...monitorsOf('bad1'), ...monitorsOf('bad2')]).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  });

  it('killed with SIGKILL, the monitor leaves the container running; rm -f still removes it', async () => {
    expect(tcr(['run', '-d', '--name', 'orphan', 'busybox', 'sleep', '60']).status).toBe(0);
    const init = pidOf('orphan');
    const [mon] = monitorsOf('orphan');
    process.kill(mon, 'SIGKILL');
    await until('the monitor is gone', () => monitorsOf('orphan').length === 0);
    await sleep(200);
    expect(inspect('orphan', '{{.State.Status}}')).toBe('running');
    expect(pidOf('orphan')).toBe(init);
    expect(tcr(['rm', '-f', 'orphan']).status).toBe(0);
    expect(containers()).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  });

  it('logs keeps stdout and stderr apart, with --tail, --timestamps, --since and --until', async () => {
    const script = 'echo one; echo two >&2; echo three; printf partial';
    expect(tcr(['run', '-d', '--name', 'talk', 'busybox', 'sh', '-c', script]).status).toBe(0);
    expect(tcr(['wait', 'talk']).stdout).toBe('0\n');
    const all = tcr(['logs', 'talk']);
    expect([all.stdout, all.stderr]).toEqual(['one\nthree\npartial', 'two\n']);
    // the file is docker's json-file format
    const lines = fs
      .readFileSync(path.join(store, 'containers', 'talk', 'container.log'), 'utf8')
      .trim()
      .split('\n');
    const entries = lines.map((l) => JSON.parse(l) as { log: string; stream: string; time: string });
    expect(entries.map((e) => [e.stream, e.log]).sort()).toEqual(
      [
        ['stderr', 'two\n'],
        ['stdout', 'one\n'],
        ['stdout', 'partial'],
        ['stdout', 'three\n'],
      ].sort(),
    );
    const tail = tcr(['logs', '--tail', '1', 'talk']);
    expect(tail.stdout + tail.stderr).toBe(entries[entries.length - 1].log);
    expect(tcr(['logs', '--tail', '0', 'talk']).stdout).toBe('');
    expect(tcr(['logs', '-n', 'all', 'talk']).stdout).toBe('one\nthree\npartial');
    const stamped = tcr(['logs', '-t', 'talk']).stdout;
    expect(stamped).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z one\n/);
    expect(tcr(['logs', '--since', '1m', 'talk']).stdout).toBe('one\nthree\npartial');
    expect(tcr(['logs', '--until', '1m', 'talk']).stdout).toBe('');
    expect(tcr(['logs', '--since', '2000-01-01T00:00:00Z', '--until', '2000-01-02T00:00:00Z', 'talk']).stdout).toBe('');
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(tcr(['logs', '--since', future, 'talk']).stdout).toBe('');
    expect(tcr(['logs', '--until', future, 'talk']).stdout).toBe('one\nthree\npartial');
    const bad = tcr(['logs', '--since', 'yesterday', 'talk']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringMatching(/--since "yesterday": not a time/)]);
    const badTail = tcr(['logs', '--tail', 'x', 'talk']);
    expect([badTail.status, badTail.stderr]).toEqual([125, expect.stringMatching(/--tail "x": not a number/)]);
    expect(tcr(['rm', 'talk']).status).toBe(0);
  });

  it('logs -f follows until the container stops, the last line included', () => {
    expect(
      tcr(['run', '-d', '--name', 'follow', 'busybox', 'sh', '-c', 'for i in 1 2 3; do echo $i; sleep 0.3; done; echo end']).status,
    ).toBe(0);
    const f = tcr(['logs', '-f', 'follow']);
    expect([f.status, f.stdout]).toEqual([0, '1\n2\n3\nend\n']);
    expect(tcr(['rm', 'follow']).status).toBe(0);
  });

  it('--restart on-failure:N runs it N more times, with RestartCount in inspect', async () => {
    expect(tcr(['run', '-d', '--restart', 'on-failure:2', '--name', 'flaky', 'busybox', 'sh', '-c', 'echo try; exit 3']).status).toBe(0);
    await until('the monitor gave up', () => monitorsOf('flaky').length === 0);
    expect(tcr(['logs', 'flaky']).stdout).toBe('try\ntry\ntry\n');
    expect(inspect('flaky', '{{.RestartCount}} {{.State.ExitCode}} {{.HostConfig.RestartPolicy.Name}}')).toBe('2 3 on-failure');
    expect(tcr(['rm', 'flaky']).status).toBe(0);
    // a clean exit is no failure
    expect(tcr(['run', '-d', '--restart', 'on-failure', '--name', 'clean', 'busybox', 'true']).status).toBe(0);
    await until('the monitor exits', () => monitorsOf('clean').length === 0);
    expect(inspect('clean', '{{.RestartCount}} {{.State.ExitCode}}')).toBe('0 0');
    expect(tcr(['rm', 'clean']).status).toBe(0);
  });

  it('--restart always keeps the upper layer across restarts, and tcr stop is not undone', async () => {
    const script = 'echo x >> /count; wc -l < /count; sleep 0.2';
    expect(tcr(['run', '-d', '--restart', 'always', '--name', 'again', 'busybox', 'sh', '-c', script]).status).toBe(0);
    await until('it restarted twice', () => Number(inspect('again', '{{.RestartCount}}') || 0) >= 2);
    expect(tcr(['stop', '-t', '1', 'again']).status).toBe(0);
    await until('the monitor exits', () => monitorsOf('again').length === 0);
    const count = Number(inspect('again', '{{.RestartCount}}'));
    await sleep(500);
    expect(inspect('again', '{{.State.Status}}')).toBe('exited');
    expect(Number(inspect('again', '{{.RestartCount}}'))).toBe(count);
    const runs = tcr(['logs', 'again']).stdout.trim().split('\n');
    expect(runs.slice(0, 3)).toEqual(['1', '2', '3']);
    expect(tcr(['rm', 'again']).status).toBe(0);
    expect(containers()).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  });

  it('rm -f of a container that --restart always would start again removes it for good', async () => {
    expect(tcr(['run', '-d', '--restart', 'always', '--name', 'doomed', 'busybox', 'sleep', '60']).status).toBe(0);
    expect(tcr(['rm', '-f', 'doomed']).status).toBe(0);
    await until('the monitor exits', () => monitorsOf('doomed').length === 0);
    await sleep(300);
    expect(containers()).toEqual([]);
    expect(tcr(['ps', '-a']).stdout).not.toMatch(/doomed/);
  });

  it("--restart refuses --rm, a foreground run and a policy it does not know, with docker's 125", () => {
    for (const [args, message] of [
      [['-d', '--rm', '--restart', 'always'], /--restart always with --rm/],
      [['--restart', 'always'], /only a detached container/],
      [['-d', '--restart', 'sometimes'], /--restart "sometimes": not a policy/],
      [['-d', '--restart', 'on-failure:x'], /retry count/],
      [['-d', '--restart', 'always:3'], /only on-failure takes a retry count/],
    ] as const) {
      const r = tcr(['run', ...args, 'busybox', 'true']);
      expect([r.status, r.stderr]).toEqual([125, expect.stringMatching(message)]);
    }
    expect(containers()).toEqual([]);
  });

  it.skipIf(lacks(haveCni))('gives the address back when the container exits, and takes one again for a restart', async () => {
    const net = `tcrmon${process.pid}`;
    expect(tcr(['network', 'create', '--subnet', freeSubnet(230), net]).status).toBe(0);
    const bridge = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge as string;
    try {
      const script = 'ip -4 -o addr show eth0 | grep -c inet; sleep 1; exit 1';
      expect(
        tcr(['run', '-d', '--network', net, '--restart', 'on-failure:1', '--name', 'addr', 'busybox', 'sh', '-c', script]).status,
      ).toBe(0);
      expect(inspect('addr', '{{.NetworkSettings.IPAddress}}')).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      await until('the monitor gave up', () => monitorsOf('addr').length === 0);
      expect(tcr(['logs', 'addr']).stdout).toBe('1\n1\n');
      expect(inspect('addr', '{{.State.Status}} {{.RestartCount}} [{{.NetworkSettings.IPAddress}}]')).toBe('exited 1 []');
      expect(tcr(['rm', 'addr']).status).toBe(0);
    } finally {
      tcr(['rm', '-f', 'addr']);
      tcr(['network', 'rm', net]);
      dropBridge(bridge);
    }
  });

  it('runs --health-cmd through exec: starting, unhealthy after the retries, healthy once it passes', async () => {
    const args = ['--health-cmd', 'test -e /tmp/ok', '--health-interval', '300ms', '--health-retries', '2'];
    expect(tcr(['run', '-d', ...args, '--name', 'doc', 'busybox', 'sleep', '60']).status).toBe(0);
    const health = () => inspect('doc', '{{.State.Health.Status}} {{.State.Health.FailingStreak}}');
    expect(health()).toMatch(/^starting 0$|^unhealthy/);
    await until('unhealthy', () => health() === 'unhealthy 2');
    expect(tcr(['exec', 'doc', 'touch', '/tmp/ok']).status).toBe(0);
    await until('healthy', () => health() === 'healthy 0');
    const log = JSON.parse(inspect('doc', '{{json .State.Health.Log}}')) as { ExitCode: number }[];
    expect(log.length).toBeLessThanOrEqual(5);
    expect(log[log.length - 1].ExitCode).toBe(0);
    expect(tcr(['rm', '-f', 'doc']).status).toBe(0);
    // no check: no State.Health; bad values are refused
    expect(tcr(['run', '-d', '--name', 'nocheck', 'busybox', 'true']).status).toBe(0);
    expect(inspect('nocheck', '{{json .State}}')).not.toMatch(/Health/);
    expect(tcr(['rm', '-f', 'nocheck']).status).toBe(0);
    for (const [bad, message] of [
      [['-d', '--health-cmd', 'true', '--health-interval', 'soon'], /--health-interval "soon": not a duration/],
      [['-d', '--health-cmd', 'true', '--health-retries', '-1'], /--health-retries "-1"/],
      [['-d', '--health-cmd', 'true', '--no-healthcheck'], /--no-healthcheck with --health-cmd/],
      [['--health-cmd', 'true'], /--health-cmd: only a detached container/],
    ] as const) {
      const r = tcr(['run', ...bad, 'busybox', 'true']);
      expect([r.status, r.stderr]).toEqual([125, expect.stringMatching(message)]);
    }
    expect(containers()).toEqual([]);
  });

  it('the monitor is one Node process of modest size', () => {
    expect(tcr(['run', '-d', '--name', 'size', 'busybox', 'sleep', '60']).status).toBe(0);
    const [mon] = monitorsOf('size');
    const rssKb = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${mon}/status`, 'utf8'))![1]);
    // printed for the README's figure; a bound far above it catches only a leak or a second copy of the CLI
    console.log(`monitor RSS: ${rssKb} kB`);
    expect(rssKb).toBeLessThan(200_000);
    expect(tcr(['rm', '-f', 'size']).status).toBe(0);
  });
});
