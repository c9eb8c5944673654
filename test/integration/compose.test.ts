// `tcr compose` end to end: the pencil factory (examples/pencil-factory)
// brought up, asked for a pencil through its published port, scaled, looked
// at with ps/logs/exec/run, and brought down with nothing left; then a file
// with named volumes and one-offs, mistakes named by service and key, and an
// `up` killed half-way that `down` still clears.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { OCI, eventually, freePort, haveCni, httpGet } from './network-lib.js';

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni))('tcr compose', () => {
  const sb = new Sandbox('tcr-compose');
  const store = path.join(sb.dir, 'store');
  const app = path.join(sb.dir, 'pencil-factory');
  const project = `pf${process.pid}`;
  let port = 0;
  const env = () => ({ ...process.env, PENCIL_PORT: String(port) });
  const tcr = (args: string[], cwd = app) => {
    const r = spawnSync(TCR, ['--root', sb.root, '--store', store, ...args], { cwd, encoding: 'utf8', timeout: 180_000, env: env() });
    return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
  };
  const compose = (args: string[], cwd = app) => tcr(['compose', '-p', project, ...args], cwd);
  const names = () => compose(['ps', '-a', '-q']).stdout.split('\n').filter(Boolean);
  const networks = () =>
    tcr(['network', 'ls', '-q'])
      .stdout.split('\n')
      .filter((n) => n.startsWith(`${project}_`));

  beforeAll(async () => {
    fs.cpSync(path.join(REPO, 'examples', 'pencil-factory'), app, { recursive: true });
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    port = await freePort();
  });
  afterAll(() => {
    compose(['down', '-v', '--remove-orphans']);
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  }, 180_000);

  it('up -d starts the four services in dependency order and the gateway serves a pencil', async () => {
    const r = compose(['up', '-d']);
    expect(r.stderr).toMatch(new RegExp(`Network ${project}_factory\\s+Created`));
    expect(r.status).toBe(0);
    // dependencies first: lead and case healthy before assembly starts, gateway last
    const order = [...r.stderr.matchAll(/Container (\S+)\s+(Started|Healthy)/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(order.indexOf(`${project}-assembly-1 Started`)).toBeGreaterThan(order.indexOf(`${project}-lead-1 Healthy`));
    expect(order.at(-1)).toBe(`${project}-gateway-1 Started`);
    expect(names().sort()).toEqual(['assembly', 'case', 'gateway', 'lead'].map((s) => `${project}-${s}-1`));
    const pencil = await eventually(() => httpGet(`http://127.0.0.1:${port}/cgi-bin/pencil`), 15_000);
    expect(pencil).toMatch(
      new RegExp(
        `^a pencil: HB graphite lead from ${project}-lead-1 in a hexagonal cedar case from ${project}-case-1, assembled by ${project}-assembly-1`,
      ),
    );
  }, 180_000);

  it('ps lists the services with their ports; exec runs in a service; the limits reach the cgroup', () => {
    const ps = compose(['ps']);
    expect(ps.stdout).toMatch(new RegExp(`${project}-gateway-1 .* gateway .* running .*0\\.0\\.0\\.0:${port}->80/tcp`));
    expect(compose(['ps', '--services']).stdout.split('\n').filter(Boolean).sort()).toEqual(['assembly', 'case', 'gateway', 'lead']);
    const e = compose([
      'exec',
      '-T',
      'lead',
      'sh',
      '-c',
      'hostname; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
    ]);
    expect(e.status).toBe(0);
    expect(e.stdout).toBe(`${project}-lead-1\n${32 * 1024 * 1024}\n`);
    expect(compose(['exec', '-T', 'lead', 'sh', '-c', 'exit 7']).status).toBe(7);
  }, 180_000);

  it('--scale lead=3: three leads, and the assembly takes from each in turn', async () => {
    const r = compose(['up', '-d', '--scale', 'lead=3']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Container ${project}-case-1\\s+Running`));
    const leads = names().filter((n) => n.includes('-lead-'));
    expect(leads.sort()).toEqual([1, 2, 3].map((n) => `${project}-lead-${n}`));
    const seen = new Set<string>();
    await eventually(async () => {
      for (let i = 0; i < 6; i++) seen.add(/lead from (\S+) in/.exec(await httpGet(`http://127.0.0.1:${port}/cgi-bin/pencil`))?.[1] ?? '');
      if (seen.size < 3) throw new Error(`only ${[...seen].join(', ')}`);
    }, 20_000);
    expect([...seen].sort()).toEqual(leads.sort());
    // and back to one: the extra replicas go
    expect(compose(['up', '-d', '--scale', 'lead=1']).status).toBe(0);
    expect(names().filter((n) => n.includes('-lead-'))).toEqual([`${project}-lead-1`]);
  }, 180_000);

  it('logs prefixes each line with its container; run makes a one-off that sees the others by name', () => {
    const logs = compose(['logs', 'gateway']);
    expect(logs.status).toBe(0);
    const one = compose(['run', '--rm', '-T', 'assembly', 'sh', '-c', 'wget -q -O- http://lead/cgi-bin/lead']);
    expect(one.stdout).toBe(`HB graphite lead from ${project}-lead-1\n`);
    expect(one.status).toBe(0);
    expect(names().some((n) => n.includes('-run-'))).toBe(false);
  }, 180_000);

  it('down removes exactly what up made: containers, network, state', () => {
    const r = compose(['down']);
    expect(r.status).toBe(0);
    expect(names()).toEqual([]);
    expect(networks()).toEqual([]);
    expect(fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []).toEqual([]);
  }, 180_000);

  it('names the service and key of a mistake, exit 1, nothing made', () => {
    const dir = path.join(sb.dir, 'bad');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'compose.yaml'), 'services:\n  web:\n    image: busybox\n    ports: ["80:http"]\n');
    const r = tcr(['compose', 'up', '-d'], dir);
    expect(r.stderr).toContain('services.web.ports[0]: "80:http" is not [[IP:]HOST:]CONTAINER[/PROTOCOL]');
    expect(r.status).toBe(1);
    expect(tcr(['network', 'ls', '-q']).stdout).not.toContain('bad_default');
  }, 180_000);

  it('named volumes keep their data across down/up and go with down -v', () => {
    const dir = path.join(sb.dir, 'vols');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'compose.yaml'),
      [
        'services:',
        '  db:',
        '    image: busybox',
        '    command: sh -c "echo $$((`cat /data/n 2>/dev/null || echo 0` + 1)) > /data/n; exec sleep 600"',
        '    volumes: [data:/data]',
        'volumes:',
        '  data: {}',
        '',
      ].join('\n'),
    );
    const c = (args: string[]) => tcr(['compose', '-p', `${project}v`, ...args], dir);
    const count = () => tcr(['exec', `${project}v-db-1`, 'cat', '/data/n']).stdout.trim();
    expect(c(['up', '-d']).status).toBe(0);
    expect(count()).toBe('1');
    expect(c(['down']).status).toBe(0);
    expect(c(['up', '-d']).status).toBe(0);
    expect(count()).toBe('2');
    expect(c(['down', '-v']).status).toBe(0);
    expect(tcr(['volume', 'ls', '-q']).stdout).not.toContain(`${project}v_data`);
  }, 180_000);

  it('depends_on service_completed_successfully waits for a one-shot; a change recreates only its service; a failed one stops up', () => {
    const dir = path.join(sb.dir, 'oneshot');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'compose.yaml'),
      [
        'services:',
        '  migrate:',
        '    image: busybox',
        '    network_mode: none',
        '    command: sh -c "sleep 1; exit ${MIGRATE_EXIT:-0}"',
        '  app:',
        '    image: busybox',
        '    network_mode: none',
        '    command: sleep 600',
        '    environment: ["LEVEL=${LEVEL:-1}"]',
        '    depends_on:',
        '      migrate: { condition: service_completed_successfully }',
        '',
      ].join('\n'),
    );
    const p = `${project}o`;
    const c = (args: string[], extra: Record<string, string> = {}) => {
      const r = spawnSync(TCR, ['--root', sb.root, '--store', store, 'compose', '-p', p, ...args], {
        cwd: dir,
        encoding: 'utf8',
        timeout: 120_000,
        env: { ...process.env, ...extra },
      });
      return { status: r.status, stderr: String(r.stderr) };
    };
    const steps = (stderr: string) =>
      [...stderr.matchAll(/Container (\S+)\s+(Started|Exited|Running|Recreated)/g)].map((m) => `${m[1]} ${m[2]}`);
    try {
      const first = c(['up', '-d']);
      expect(first.stderr).not.toMatch(/^tcr:/m);
      expect(first.status).toBe(0);
      // the app only once the one-shot has exited 0
      expect(steps(first.stderr)).toEqual([`${p}-migrate-1 Started`, `${p}-migrate-1 Exited`, `${p}-app-1 Started`]);
      // the app's environment changed: the app is made again, the one-shot (unchanged) started again and awaited again
      const second = c(['up', '-d'], { LEVEL: '2' });
      expect(second.status).toBe(0);
      expect(steps(second.stderr)).toEqual([`${p}-migrate-1 Started`, `${p}-migrate-1 Exited`, `${p}-app-1 Recreated`]);
      expect(tcr(['exec', `${p}-app-1`, 'sh', '-c', 'echo $LEVEL']).stdout).toBe('2\n');
      // a one-shot that fails: up says which and how, the app is left as it was
      const third = c(['up', '-d'], { LEVEL: '2', MIGRATE_EXIT: '3' });
      expect(third.stderr).toMatch(new RegExp(`service migrate didn't complete successfully: container ${p}-migrate-1 exited 3`));
      expect(third.status).not.toBe(0);
      expect(tcr(['inspect', '-f', '{{.State.Status}}', `${p}-app-1`]).stdout.trim()).toBe('running');
      expect(c(['down']).status).toBe(0);
    } finally {
      c(['down']);
    }
  }, 180_000);

  it('up in the foreground: prefixed logs, --exit-code-from stops the rest and returns its status', () => {
    const dir = path.join(sb.dir, 'fg');
    fs.mkdirSync(dir);
    fs.writeFileSync(
      path.join(dir, 'compose.yaml'),
      [
        'services:',
        '  server:',
        '    image: busybox',
        '    command: sleep 600',
        '  job:',
        '    image: busybox',
        '    command: sh -c "sleep 1; echo job done; exit 3"',
        '',
      ].join('\n'),
    );
    const p = `${project}f`;
    const r = tcr(['compose', '-p', p, 'up', '--exit-code-from', 'job'], dir);
    expect(r.stdout).toMatch(new RegExp(`^${p}-job-1\\s+\\| job done$`, 'm'));
    expect(r.status).toBe(3);
    const ps = tcr(['compose', '-p', p, 'ps', '-a', '--format', 'json'], dir);
    const states = Object.fromEntries((JSON.parse(ps.stdout) as { Service: string; State: string }[]).map((c) => [c.Service, c.State]));
    expect(states).toEqual({ job: 'exited', server: 'exited' });
    expect(tcr(['compose', '-p', p, 'down'], dir).status).toBe(0);
  }, 180_000);

  it('an up killed -9 half-way leaves only what down removes', async () => {
    const child = spawn(TCR, ['--root', sb.root, '--store', store, 'compose', '-p', `${project}k`, 'up', '-d'], {
      cwd: app,
      env: env(),
      stdio: 'ignore',
    });
    // killed once the first container exists, while the others wait for its health
    await eventually(async () => {
      if (!fs.existsSync(sb.root) || !fs.readdirSync(sb.root).some((i) => i.startsWith(`${project}k-`))) throw new Error('not yet');
    }, 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 2000)); // a `tcr run -d` it had started finishes by itself
    const down = tcr(['compose', '-p', `${project}k`, 'down'], app);
    expect(down.status).toBe(0);
    expect(fs.readdirSync(sb.root).filter((i) => i.startsWith(`${project}k`))).toEqual([]);
    expect(tcr(['network', 'ls', '-q']).stdout).not.toContain(`${project}k_`);
  });
});
