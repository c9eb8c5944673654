// `tcr pull` and `tcr run IMAGE` by an ordinary user, as rootless podman:
// real accounts made here (one with /etc/subuid and /etc/subgid ranges, one
// without), an image pulled from a private registry on 127.0.0.1 whose layer
// holds files of uid 0, of uid 1000 and a setuid one, and what the container
// sees (root, the map) against what the host sees (the user's uid on the
// process, the range's ids on the files), and that nothing stays after rm.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, TCR, isRoot, lacks } from '../helpers.js';
import { buildImage, tarOf, writeLayout } from '../image-fixtures.js';
import { TestRegistry, ensureRegistryTools } from './registry-lib.js';
import { makeAccount, processesOf, removeAccount, type Account } from './accounts.js';
import { waitFor } from './lib.js';

const haveTools = ['useradd', 'userdel', 'runuser', 'newuidmap', 'unshare', 'tar'].every((t) => spawnSync('which', [t]).status === 0);
const missing = isRoot && haveTools && fs.existsSync(path.join(DEMO, 'rootfs')) ? ensureRegistryTools() : 'not root, or no tools';
const PATH = '/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin';
const suffix = crypto.randomBytes(3).toString('hex');
const RANGE_BASE = 1_000_000 + crypto.randomInt(1000) * 65536;
const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-rl-image-'));
const reg = new TestRegistry(path.join(top, 'registry'));

const accounts: Account[] = [];
const sh = (cmd: string, args: string[]) => spawnSync(cmd, args, { encoding: 'utf8' });
const account = (name: string, ranges: boolean): Account => {
  const a = makeAccount(name, ranges ? RANGE_BASE : undefined, top);
  accounts.push(a);
  return a;
};

/** tcr as the account, in an environment of its own (no XDG_DATA_HOME: the store is ~/.local/share/tcr). */
function tcr(a: Account, args: string[]) {
  const env = [`PATH=${PATH}`, `HOME=/home/${a.name}`, `XDG_RUNTIME_DIR=${a.runtimeDir}`];
  const r = spawnSync('runuser', ['-u', a.name, '--', 'env', '-i', ...env, TCR, ...args], { encoding: 'utf8', cwd: top, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const storeOf = (a: Account) => `/home/${a.name}/.local/share/tcr`;
/** The user's slirp4netns processes, by their comm and owner. */
const slirpsOf = (a: Account) =>
  fs.readdirSync('/proc').filter((p) => {
    if (!/^\d+$/.test(p)) return false;
    try {
      return fs.readFileSync(`/proc/${p}/comm`, 'utf8').trim() === 'slirp4netns' && fs.statSync(`/proc/${p}`).uid === a.uid;
    } catch {
      return false;
    }
  });
const socketsUnder = (dir: string): string[] =>
  fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isSocket() && e.name.includes('slirp'))
    .map((e) => path.join(e.parentPath, e.name));
/** The body of a GET on 127.0.0.1:PORT, once something answers there (the container's server takes a moment to listen). */
async function answerOn(port: number): Promise<string> {
  let body = '';
  for (let i = 0; i < 100 && !body; i++) {
    body = await fetch(`http://127.0.0.1:${port}/`).then(
      (res) => res.text(),
      () => '',
    );
    if (!body) await new Promise((res) => setTimeout(res, 100));
  }
  return body;
}
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
const hostMountsOf = (a: Account) =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(`/home/${a.name}/`) || l.includes(a.runtimeDir));

/** The layer of other owners: tar's --owner and --mode, so that only an unpack that chowns keeps them. */
function ownersLayer(): Buffer {
  const dir = path.join(top, 'owners');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'data', 'rootfile'), 'root\n');
  fs.writeFileSync(path.join(dir, 'data', 'userfile'), 'user\n');
  fs.writeFileSync(path.join(dir, 'data', 'suid'), 'suid\n');
  fs.mkdirSync(path.join(dir, 'data', 'old'));
  fs.writeFileSync(path.join(dir, 'data', 'old', 'x'), 'x\n');
  fs.writeFileSync(path.join(dir, 'data', 'gone'), 'gone\n');
  const tar = path.join(top, 'owners.tar');
  const t = (args: string[]) => expect(sh('tar', ['--numeric-owner', '-C', dir, ...args]).status).toBe(0);
  t(['--owner=0', '--group=0', '-cf', tar, 'data', 'data/rootfile', 'data/old', 'data/gone']);
  t(['--owner=1000', '--group=1000', '-rf', tar, 'data/userfile']);
  t(['--owner=0', '--group=0', '--mode=4755', '-rf', tar, 'data/suid']);
  return fs.readFileSync(tar);
}

afterAll(async () => {
  try {
    for (const a of accounts) for (const pid of processesOf(a)) spawnSync('kill', ['-9', String(pid)]);
    await reg.stop();
  } finally {
    for (const a of accounts) removeAccount(a);
    fs.rmSync(top, { recursive: true, force: true });
  }
});

describe.skipIf(lacks(!missing))('rootless: tcr pull and run IMAGE as an ordinary user', () => {
  let ranged: Account;
  let plain: Account;
  let image: string;

  beforeAll(async () => {
    fs.chmodSync(top, 0o755);
    ranged = account(`tcrimg${suffix}`, true);
    plain = account(`tcrimg${suffix}n`, false);
    const base = path.join(top, 'base.tar');
    expect(sh('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', path.join(DEMO, 'rootfs'), '-cf', base, '.']).status).toBe(0);
    // the top layer makes data/old opaque and deletes data/gone: marks the user's overlay must read (user.overlay.*)
    const marks = await tarOf([
      { name: 'data/old/.wh..wh..opq', content: '' },
      { name: 'data/old/y', content: 'y\n' },
      { name: 'data/.wh.gone', content: '' },
    ]);
    const img = await buildImage({
      layers: [fs.readFileSync(base), ownersLayer(), marks],
      editConfig: (c) => ((c.config as Record<string, unknown>).Cmd = ['sh']),
    });
    writeLayout(path.join(top, 'layout'), [{ img, refName: 'one' }]);
    await reg.start();
    await reg.push(path.join(top, 'layout'), 'one', 'rl/owners:1');
    image = `${reg.host}/rl/owners:1`;
  }, 120_000);

  it('pulls into ~/.local/share/tcr, owners mapped into the range', () => {
    const r = tcr(ranged, ['pull', image]);
    expect(r.status, r.stderr).toBe(0);
    expect(tcr(ranged, ['images']).stdout).toContain('rl/owners');
    const layers = path.join(storeOf(ranged), 'layers', 'sha256');
    const owner = (f: string) => {
      const hit = fs
        .readdirSync(layers)
        .map((d) => path.join(layers, d, 'diff', 'data', f))
        .find((p) => fs.existsSync(p));
      return fs.statSync(hit!);
    };
    // container uid 0 is the user, 1000 is range base + 999 (1 → base)
    expect(owner('rootfile').uid).toBe(ranged.uid);
    expect(owner('userfile').uid).toBe(RANGE_BASE + 999);
    expect(owner('userfile').gid).toBe(RANGE_BASE + 999);
    expect(owner('suid').mode & 0o7777).toBe(0o4755);
  }, 60_000);

  it('runs it: root and the map inside, the user on the host, nothing left after --rm', () => {
    const r = tcr(ranged, [
      'run',
      '--rm',
      image,
      'sh',
      '-c',
      'id -u; cat /proc/self/uid_map; stat -c "%u %a %n" /data/rootfile /data/userfile /data/suid; touch /data/new && echo wrote; ls /data/old; ls /data',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('0');
    expect(lines[1].trim().split(/\s+/)).toEqual(['0', String(ranged.uid), '1']);
    expect(lines[2].trim().split(/\s+/)).toEqual(['1', String(RANGE_BASE), '65536']);
    expect(lines.slice(3, 6)).toEqual(['0 644 /data/rootfile', '1000 644 /data/userfile', '0 4755 /data/suid']);
    expect(lines[6]).toBe('wrote');
    // the opaque directory hides x of the layer below; the whiteout hides gone
    expect(lines.slice(7)).toEqual(['y', 'new', 'old', 'rootfile', 'suid', 'userfile']);
    expect(fs.readdirSync(path.join(storeOf(ranged), 'containers'))).toEqual([]);
    expect(hostMountsOf(ranged)).toEqual([]);
  }, 60_000);

  it('run -d, ps, logs, exec, stop, rm: the host sees the user uid, rm leaves nothing', async () => {
    const d = tcr(ranged, ['run', '-d', image, 'sh', '-c', 'echo up; exec sleep 300']);
    expect(d.status, d.stderr).toBe(0);
    const id = d.stdout.trim();
    let pid = 0;
    for (let i = 0; i < 100 && !pid; i++) {
      pid = processesOf(ranged).find((p) => fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('sleep')) ?? 0;
      if (!pid) await new Promise((res) => setTimeout(res, 50));
    }
    expect(pid).toBeGreaterThan(0);
    expect(fs.statSync(`/proc/${pid}`).uid).toBe(ranged.uid);
    expect(tcr(ranged, ['ps']).stdout).toContain(id);
    expect(tcr(ranged, ['logs', id]).stdout).toBe('up\n');
    // a directory of container uid 1000 in the upper layer, which the user alone could not remove
    const e = tcr(ranged, ['exec', id, 'sh', '-c', 'id -u; mkdir /owned; touch /owned/f; chown -R 1000:1000 /owned; chmod 500 /owned']);
    expect(e.status, e.stderr).toBe(0);
    expect(e.stdout.split('\n')[0]).toBe('0');
    const upper = path.join(storeOf(ranged), 'containers', id, 'upper', 'owned');
    expect(fs.statSync(upper).uid).toBe(RANGE_BASE + 999);
    // the overlay exists only in the container's mount namespace
    expect(hostMountsOf(ranged)).toEqual([]);
    expect(tcr(ranged, ['stop', '-t', '1', id]).status).toBe(0);
    const rm = tcr(ranged, ['rm', id]);
    expect(rm.status, rm.stderr).toBe(0);
    expect(fs.readdirSync(path.join(storeOf(ranged), 'containers'))).toEqual([]);
    expect(fs.existsSync(path.join(ranged.runtimeDir, 'tcr', id))).toBe(false);
    // its monitor, done, may take a moment to be reaped
    await waitFor(() => processesOf(ranged).length === 0, 5000, 'no process of the user');
    expect(hostMountsOf(ranged)).toEqual([]);
  }, 60_000);

  it('--network host shares the host network; a bridge network is refused naming what works', () => {
    const h = tcr(ranged, ['run', '--rm', '--network', 'host', image, 'sh', '-c', 'readlink /proc/self/ns/net']);
    expect(h.status, h.stderr).toBe(0);
    expect(h.stdout.trim()).toBe(fs.readlinkSync('/proc/self/ns/net'));
    const p = tcr(ranged, ['run', '--rm', '--network', 'mynet', image, 'true']);
    expect(p.status).toBe(125);
    expect(p.stderr).toMatch(/--network mynet: as uid \d+, tcr has no bridge.*--network slirp4netns.*none.*host/);
  }, 60_000);

  it('the default network is slirp4netns: tap0 10.0.2.100 and fd00::/64, their routes, its DNS; nothing of it stays after --rm', async () => {
    // IPv6 comes by router advertisement, a moment after the start
    const v6 = 'for i in $(seq 1 50); do ip -6 route | grep -q "^default" && break; sleep 0.1; done; ip -6 addr show tap0; ip -6 route';
    for (const net of [[], ['--network', 'slirp4netns']]) {
      const r = tcr(ranged, [
        'run',
        '--rm',
        ...net,
        image,
        'sh',
        '-c',
        `ip -4 addr show tap0; cat /proc/net/route; cat /etc/resolv.conf; ${v6}`,
      ]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/inet 10\.0\.2\.100\/24/);
      // the default route (destination 0) through tap0, gateway 10.0.2.2 in /proc's little-endian hex
      expect(r.stdout).toMatch(/^tap0\s+00000000\s+0202000A\s/m);
      expect(r.stdout).toMatch(/^nameserver 10\.0\.2\.3$/m);
      expect(r.stdout).toMatch(/inet6 fd00::[0-9a-f:]+\/64 scope global/);
      expect(r.stdout).toMatch(/^default via fe80::2 dev tap0/m);
    }
    // each ended with its run's process, which held its --exit-fd
    await waitFor(() => slirpsOf(ranged).length === 0, 5000, 'no slirp4netns of the user');
    expect(socketsUnder(ranged.runtimeDir)).toEqual([]);
  }, 60_000);

  it('-p 127.0.0.1:PORT:80 of a run -d answers from the host; rm -f leaves no slirp4netns, socket or state', async () => {
    const port = await freePort();
    const web = 'mkdir -p /www && echo hello-slirp > /www/index.html && exec httpd -f -p 80 -h /www';
    const d = tcr(ranged, ['run', '-d', '-p', `127.0.0.1:${port}:80`, image, 'sh', '-c', web]);
    expect(d.status, d.stderr).toBe(0);
    const id = d.stdout.trim();
    try {
      expect(await answerOn(port)).toBe('hello-slirp\n');
      expect(slirpsOf(ranged)).toHaveLength(1);
      const bindings = tcr(ranged, ['inspect', '--format', '{{json .HostConfig.PortBindings}}', id]).stdout.trim();
      expect(JSON.parse(bindings)).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
      expect(tcr(ranged, ['ps', '--format', '{{.Ports}}']).stdout).toBe(`127.0.0.1:${port}->80/tcp\n`);
      // port and NetworkSettings.Ports say so too, as for a bridge's ports
      expect(tcr(ranged, ['port', id]).stdout).toBe(`80/tcp -> 127.0.0.1:${port}\n`);
      expect(tcr(ranged, ['port', id, '80']).stdout).toBe(`127.0.0.1:${port}\n`);
      const ports = tcr(ranged, ['inspect', '--format', '{{json .NetworkSettings.Ports}}', id]).stdout.trim();
      expect(JSON.parse(ports)).toEqual({ '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] });
      // the API socket was unlinked once the port was published
      expect(socketsUnder(ranged.runtimeDir)).toEqual([]);
      // stopped, its slirp4netns ends with its monitor; started again, a new one publishes the port again
      expect(tcr(ranged, ['stop', '-t', '1', id]).status).toBe(0);
      await waitFor(() => slirpsOf(ranged).length === 0, 5000, 'no slirp4netns after the stop');
      expect(tcr(ranged, ['port', id]).stdout).toBe('');
      const st = tcr(ranged, ['start', id]);
      expect(st.status, st.stderr).toBe(0);
      expect(await answerOn(port)).toBe('hello-slirp\n');
      expect(slirpsOf(ranged)).toHaveLength(1);
    } finally {
      const rm = tcr(ranged, ['rm', '-f', id]);
      expect(rm.status, rm.stderr).toBe(0);
    }
    await waitFor(() => slirpsOf(ranged).length === 0, 5000, 'no slirp4netns of the user');
    await waitFor(() => processesOf(ranged).length === 0, 5000, 'no process of the user');
    expect(fs.existsSync(path.join(ranged.runtimeDir, 'tcr', id))).toBe(false);
    expect(fs.readdirSync(path.join(storeOf(ranged), 'containers'))).toEqual([]);
    const after = await fetch(`http://127.0.0.1:${port}/`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(after).toBe('refused');
  }, 60_000);

  it('-p of a host port in use fails with 125 naming it, and leaves no container or slirp4netns', async () => {
    const srv = net.createServer();
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    const { port } = srv.address() as net.AddressInfo;
    try {
      const r = tcr(ranged, ['run', '--rm', '-p', `127.0.0.1:${port}:80`, image, 'true']);
      expect(r.status).toBe(125);
      expect(r.stderr).toContain(`-p 127.0.0.1:${port}:80/tcp: slirp4netns:`);
      expect(r.stderr).toContain(`is 127.0.0.1:${port} in use?`);
    } finally {
      srv.close();
    }
    await waitFor(() => slirpsOf(ranged).length === 0, 5000, 'no slirp4netns of the user');
    expect(fs.readdirSync(path.join(storeOf(ranged), 'containers'))).toEqual([]);
    expect(tcr(ranged, ['ps', '-aq']).stdout).toBe('');
  }, 60_000);

  it('a foreground run killed with SIGKILL takes its slirp4netns with it', async () => {
    const name = `crash${suffix}`;
    const env = [`PATH=${PATH}`, `HOME=/home/${ranged.name}`, `XDG_RUNTIME_DIR=${ranged.runtimeDir}`];
    const child = spawn('runuser', ['-u', ranged.name, '--', 'env', '-i', ...env, TCR, 'run', '--name', name, image, 'sleep', '300'], {
      cwd: top,
      stdio: 'ignore',
    });
    try {
      await waitFor(() => slirpsOf(ranged).length === 1, 10_000, 'its slirp4netns');
      // the process that holds its --exit-fd: the run itself
      const holder = Number(/^PPid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${slirpsOf(ranged)[0]}/status`, 'utf8'))![1]);
      expect(fs.readFileSync(`/proc/${holder}/cmdline`, 'utf8')).toContain('run');
      process.kill(holder, 'SIGKILL');
      await waitFor(() => slirpsOf(ranged).length === 0, 5000, 'no slirp4netns after the kill');
    } finally {
      child.kill('SIGKILL');
      const rm = tcr(ranged, ['rm', '-f', name]);
      expect(rm.status, rm.stderr).toBe(0);
    }
    await waitFor(() => processesOf(ranged).length === 0, 5000, 'no process of the user');
    expect(socketsUnder(ranged.runtimeDir)).toEqual([]);
  }, 60_000);

  it('rmi removes the layers the range owns; run pulls a missing image the same way', () => {
    const r = tcr(ranged, ['rmi', image]);
    expect(r.status, r.stderr).toBe(0);
    expect(fs.readdirSync(path.join(storeOf(ranged), 'layers', 'sha256'))).toEqual([]);
    const run = tcr(ranged, ['run', '--rm', image, 'stat', '-c', '%u', '/data/userfile']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe('1000\n');
    expect(tcr(ranged, ['rmi', image]).status).toBe(0);
    expect(fs.readdirSync(path.join(storeOf(ranged), 'layers', 'sha256'))).toEqual([]);
  }, 60_000);

  it('without a range: a warning, other owners stored as the user, root inside', () => {
    const r = tcr(plain, ['pull', image]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/has no range in \/etc\/subuid and \/etc\/subgid: only uid \d+ is mapped.*usermod --add-subuids/);
    const run = tcr(plain, ['run', '--rm', image, 'sh', '-c', 'cat /proc/self/uid_map; stat -c "%u %n" /data/userfile']);
    expect(run.status, run.stderr).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0].trim().split(/\s+/)).toEqual(['0', String(plain.uid), '1']);
    expect(lines[1]).toBe('0 /data/userfile');
  }, 60_000);
});
