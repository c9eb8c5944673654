// Docker parity of `tcr run IMAGE` and friends (issue 14): inspect's
// HostConfig.Devices in docker's shape; the json-file log of a foreground
// run (stdout and stderr still apart on the terminal, a -t run's terminal
// output logged); /dev/shm shared with --ipc container:NAME and --ipc host;
// --userns keep-id refused as podman refuses it as root; and `tcr rename`
// of a running container (its id stays, its name changes, as docker's).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks, mountsUnder } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('docker parity gaps', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-gaps');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const inspect = (id: string, format: string) => tcr(['inspect', '-f', format, id]);

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it("inspect's HostConfig.Devices: each --device as given, docker's shape, rwm by default; [] without", () => {
    const made = tcr([
      'create',
      '--network',
      'none',
      '--name',
      'devs',
      '--device',
      '/dev/loop-control:/dev/lc:r',
      '--device',
      '/dev/null',
      'busybox',
    ]);
    expect(made.stderr).toBe('');
    const plain = tcr(['create', '--network', 'none', '--name', 'nodevs', 'busybox']);
    expect(plain.stderr).toBe('');
    try {
      expect(JSON.parse(inspect('devs', '{{json .HostConfig.Devices}}').stdout)).toEqual([
        { PathOnHost: '/dev/loop-control', PathInContainer: '/dev/lc', CgroupPermissions: 'r' },
        { PathOnHost: '/dev/null', PathInContainer: '/dev/null', CgroupPermissions: 'rwm' },
      ]);
      expect(inspect('nodevs', '{{json .HostConfig.Devices}}').stdout).toBe('[]\n');
    } finally {
      tcr(['rm', '-f', 'devs', 'nodevs']);
    }
  });

  it('a foreground run keeps a log: the terminal still gets stdout and stderr apart, logs gives each back', () => {
    const r = tcr(['run', '--network', 'none', '--name', 'fg', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2; printf tail']);
    try {
      expect([r.status, r.stdout, r.stderr]).toEqual([0, 'out1\nout2\ntail', 'err1\n']);
      const logs = tcr(['logs', 'fg']);
      expect([logs.status, logs.stdout, logs.stderr]).toEqual([0, 'out1\nout2\ntail', 'err1\n']);
      const lines = fs
        .readFileSync(path.join(store, 'containers', 'fg', 'container.log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { log: string; stream: string });
      expect(lines.map((l) => [l.stream, l.log])).toEqual(
        expect.arrayContaining([
          ['stdout', 'out1\n'],
          ['stderr', 'err1\n'],
          ['stdout', 'tail'],
        ]),
      );
      // the exit status is still the container's, and a second run of it appends
      expect(tcr(['start', '-a', 'fg']).status).toBe(0);
      expect(tcr(['logs', 'fg']).stdout).toBe('out1\nout2\ntailout1\nout2\ntail');
    } finally {
      tcr(['rm', '-f', 'fg']);
    }
    // --rm: nothing is left to read
    expect(tcr(['run', '--rm', '--network', 'none', '--name', 'gone', 'busybox', 'sh', '-c', 'exit 3']).status).toBe(3);
    expect(tcr(['logs', 'gone']).status).toBe(125);
  });

  it("a foreground -t run logs its terminal's output, as docker's json-file does (stdout, CRLF)", () => {
    // `script` gives tcr a terminal of its own, as a person's shell would
    const cmd = `${TCR} --root ${sb.root} --store ${store} run -t --network none --name fgt busybox sh -c 'echo tty1; echo tty2 >&2; exit 5'`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      expect(r.status).toBe(5);
      expect(r.stdout).toMatch(/tty1\r+\n.*tty2/s);
      const logs = tcr(['logs', 'fgt']);
      expect(logs.stdout).toMatch(/^tty1\r\ntty2\r\n/);
      expect(logs.stderr).toBe('');
      expect(inspect('fgt', '{{.State.ExitCode}}').stdout).toBe('5\n');
    } finally {
      tcr(['rm', '-f', 'fgt']);
    }
  });

  it("--ipc container:NAME shares the other's /dev/shm (both ways); --ipc host gets the host's", () => {
    expect(
      tcr([
        'run',
        '-d',
        '--network',
        'none',
        '--ipc',
        'shareable',
        '--name',
        'ipcowner',
        'busybox',
        'sh',
        '-c',
        'echo from-a > /dev/shm/a; sleep 300',
      ]).status,
    ).toBe(0);
    const hostFile = `/dev/shm/tcr-gaps-${process.pid}`;
    try {
      for (let i = 0; i < 100 && tcr(['exec', 'ipcowner', 'cat', '/dev/shm/a']).stdout !== 'from-a\n'; i++) spawnSync('sleep', ['0.1']);
      const b = tcr([
        'run',
        '--rm',
        '--network',
        'none',
        '--ipc',
        'container:ipcowner',
        'busybox',
        'sh',
        '-c',
        'cat /dev/shm/a; echo from-b > /dev/shm/b',
      ]);
      expect([b.status, b.stdout, b.stderr]).toEqual([0, 'from-a\n', '']);
      expect(tcr(['exec', 'ipcowner', 'cat', '/dev/shm/b']).stdout).toBe('from-b\n');
      // the same namespace too
      const ns = tcr([
        'run',
        '--rm',
        '--network',
        'none',
        '--ipc',
        'container:ipcowner',
        'busybox',
        'readlink',
        '/proc/self/ns/ipc',
      ]).stdout;
      expect(ns).toBe(tcr(['exec', 'ipcowner', 'readlink', '/proc/self/ns/ipc']).stdout);
      const shm = tcr(['run', '--rm', '--network', 'none', '--ipc', 'container:ipcowner', '--shm-size', '1m', 'busybox', 'true']);
      expect([shm.status, shm.stderr]).toEqual([125, expect.stringContaining('--shm-size: conflicts with --ipc container:ipcowner')]);
      // a private one's /dev/shm is its own: refused as docker refuses it, nothing made
      expect(tcr(['run', '-d', '--network', 'none', '--name', 'ipcprivate', 'busybox', 'sleep', '300']).status).toBe(0);
      const priv = tcr(['run', '--rm', '--network', 'none', '--name', 'joiner', '--ipc', 'container:ipcprivate', 'busybox', 'true']);
      expect([priv.status, priv.stderr]).toEqual([
        125,
        'tcr: --ipc container:ipcprivate: non-shareable IPC (run ipcprivate with --ipc shareable, as docker asks)\n',
      ]);
      expect(states().sort()).toEqual(['ipcowner', 'ipcprivate']);
      // stopped, its /dev/shm is unmounted from the host (a start mounts a fresh one)
      expect(mountsUnder(path.join(store, 'containers', 'ipcowner', 'shm'))).toHaveLength(1);
      expect(tcr(['stop', '-t', '0', 'ipcowner']).status).toBe(0);
      expect(mountsUnder(path.join(store, 'containers', 'ipcowner', 'shm'))).toEqual([]);
      expect(tcr(['start', 'ipcowner']).status).toBe(0);
      expect(mountsUnder(path.join(store, 'containers', 'ipcowner', 'shm'))).toHaveLength(1);
      fs.writeFileSync(hostFile, 'from-host\n');
      const h = tcr([
        'run',
        '--rm',
        '--network',
        'none',
        '--ipc',
        'host',
        'busybox',
        'sh',
        '-c',
        `cat ${hostFile}; echo back > ${hostFile}.c`,
      ]);
      expect([h.status, h.stdout, h.stderr]).toEqual([0, 'from-host\n', '']);
      expect(fs.readFileSync(`${hostFile}.c`, 'utf8')).toBe('back\n');
    } finally {
      tcr(['rm', '-f', 'ipcowner', 'ipcprivate']);
      fs.rmSync(hostFile, { force: true });
      fs.rmSync(`${hostFile}.c`, { force: true });
    }
    expect(mountsUnder(sb.dir)).toEqual([]);
  });

  it("--userns: keep-id and nomap refused as podman refuses them as root (125), host and '' run, others name the accepted", () => {
    for (const [v, message] of [
      ['keep-id', /^tcr: --userns keep-id: keep-id is only supported in rootless mode .*--userns host/],
      ['keep-id:uid=5', /^tcr: --userns keep-id:uid=5: keep-id is only supported in rootless mode/],
      ['nomap', /^tcr: --userns nomap: nomap is only supported in rootless mode/],
      ['bogus', /^tcr: --userns: "bogus" is not a mode tcr takes here \(host, or empty for the default\)/],
    ] as [string, RegExp][]) {
      const r = tcr(['run', '--rm', '--network', 'none', '--name', 'userns', '--userns', v, 'busybox', 'true']);
      expect([r.status, r.stderr], v).toEqual([125, expect.stringMatching(message)]);
      expect(states(), v).toEqual([]);
    }
    const own = fs.readlinkSync('/proc/self/ns/user');
    for (const v of ['host', '']) {
      const r = tcr(['run', '--rm', '--network', 'none', '--userns', v, 'busybox', 'readlink', '/proc/self/ns/user']);
      expect([r.status, r.stdout, r.stderr], v).toEqual([0, `${own}\n`, '']);
    }
  });
});
