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
import { dropBridge, freeSubnet, haveCni } from './network-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('docker parity gaps', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-gaps');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const inspect = (id: string, format: string) => tcr(['inspect', '-f', format, id]);
  const names = () => (fs.existsSync(path.join(sb.root, '.names')) ? fs.readdirSync(path.join(sb.root, '.names')) : []);
  const until = async (what: () => boolean, message: string) => {
    for (let i = 0; i < 300 && !what(); i++) await new Promise((r) => setTimeout(r, 100));
    expect(what(), message).toBe(true);
  };

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

  it("--ipc container:NAME shares the other's /dev/shm (both ways); --ipc host gets the host's", async () => {
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
      // its monitor unmounts it once it has seen the exit
      await until(() => mountsUnder(path.join(store, 'containers', 'ipcowner', 'shm')).length === 0, 'its /dev/shm unmounted at the stop');
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
    expect(mountsUnder(sb.dir).join(' ')).toBe('');
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

  it('rename of a running container: the id stays, every command finds it by the new name only; the old name is free', async () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'rnold', 'busybox', 'sh', '-c', 'echo hello; sleep 300']).status).toBe(0);
    try {
      const r = tcr(['rename', 'rnold', 'rnnew']);
      expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
      expect(tcr(['ps', '--format', '{{.ID}} {{.Names}} {{.State}}']).stdout).toBe('rnold rnnew running\n');
      expect(inspect('rnnew', '{{.Id}} {{.Name}} {{.State.Status}}').stdout).toBe('rnold /rnnew running\n');
      for (const args of [
        ['inspect', 'rnold'],
        ['exec', 'rnold', 'true'],
        ['logs', 'rnold'],
        ['stop', 'rnold'],
      ]) {
        const old = tcr(args);
        expect([old.status, old.stderr], args.join(' ')).toEqual([args[0] === 'exec' ? 255 : 125, 'tcr: container rnold does not exist\n']);
      }
      expect(tcr(['exec', 'rnnew', 'echo', 'inside']).stdout).toBe('inside\n');
      await until(() => tcr(['logs', 'rnnew']).stdout === 'hello\n', 'logs by the new name');
      // what names another container inside a flag or an argument finds it by the new name too
      const copied = path.join(sb.dir, 'rn-hostname');
      expect(tcr(['cp', 'rnnew:/etc/hostname', copied]).status).toBe(0);
      expect(fs.readFileSync(copied, 'utf8')).toBe(inspect('rnnew', '{{.Config.Hostname}}').stdout);
      expect(tcr(['cp', 'rnold:/etc/hostname', copied]).status).not.toBe(0);
      const joined = tcr(['run', '--rm', '--network', 'container:rnnew', 'busybox', 'hostname']);
      expect([joined.status, joined.stdout]).toEqual([0, inspect('rnnew', '{{.Config.Hostname}}').stdout]);
      const from = tcr(['run', '--rm', '--network', 'none', '--volumes-from', 'rnnew', 'busybox', 'true']);
      expect([from.status, from.stderr]).toEqual([0, '']);
      expect(tcr(['run', '--rm', '--network', 'none', '--volumes-from', 'rnold', 'busybox', 'true']).stderr).toContain('no such container');
      expect(tcr(['ps', '-a', '--filter', 'name=rnnew', '--format', '{{.Names}}']).stdout).toBe('rnnew\n');
      // the old name, taken again: a container of its own (an id of its own, as its directories are still the other's)
      expect(tcr(['run', '-d', '--network', 'none', '--name', 'rnold', 'busybox', 'sleep', '300']).status).toBe(0);
      const second = inspect('rnold', '{{.Id}} {{.Name}}').stdout;
      expect(second).toMatch(/^[0-9a-f]{12} \/rnold\n$/);
      expect(tcr(['ps', '--format', '{{.Names}}']).stdout.split('\n').sort()).toEqual(['', 'rnnew', 'rnold']);
      const taken = tcr(['rename', 'rnnew', 'rnold']);
      expect([taken.status, taken.stderr]).toEqual([125, expect.stringContaining('the container name "rnold" is already in use')]);
      const stopped = tcr(['stop', '-t', '0', 'rnnew']);
      expect([stopped.status, stopped.stdout]).toEqual([0, 'rnnew\n']);
      expect(inspect('rnnew', '{{.State.Status}}').stdout).toBe('exited\n');
      expect(tcr(['start', 'rnnew']).stdout).toBe('rnnew\n');
      expect(inspect('rnnew', '{{.Name}} {{.State.Status}}').stdout).toBe('/rnnew running\n');
      const removed = tcr(['rm', '-f', 'rnnew']);
      expect([removed.status, removed.stdout]).toEqual([0, 'rnnew\n']);
      expect(inspect('rnold', '{{.Id}} {{.Name}}').stdout).toBe(second);
      expect(tcr(['rm', '-f', 'rnold']).status).toBe(0);
      expect([states(), names()]).toEqual([[], []]);
      expect(mountsUnder(store)).toEqual([]);
    } finally {
      tcr(['rm', '-f', 'rnnew', 'rnold']);
    }
  });

  it('a renamed running container keeps its restart policy and its --rm under the new name', async () => {
    expect(
      tcr(['run', '-d', '--network', 'none', '--restart', 'always', '--name', 'rsold', 'busybox', 'sh', '-c', 'echo up; sleep 1; exit 1'])
        .status,
    ).toBe(0);
    expect(tcr(['run', '-d', '--rm', '--network', 'none', '--name', 'rmold', 'busybox', 'sleep', '300']).status).toBe(0);
    try {
      expect(tcr(['rename', 'rsold', 'rsnew']).status).toBe(0);
      expect(tcr(['rename', 'rmold', 'rmnew']).status).toBe(0);
      await until(() => Number(inspect('rsnew', '{{.RestartCount}}').stdout) >= 2, 'restarted twice under its new name');
      expect(inspect('rsnew', '{{.Name}} {{.HostConfig.RestartPolicy.Name}}').stdout).toBe('/rsnew always\n');
      expect(tcr(['ps', '-a', '--format', '{{.Names}}']).stdout.split('\n').sort()).toEqual(['', 'rmnew', 'rsnew']);
      expect(tcr(['stop', '-t', '0', 'rmnew']).stdout).toBe('rmnew\n');
      await until(() => !states().includes('rmold') && !names().includes('rmnew'), 'the --rm container and its name removed at its stop');
      expect(names()).toEqual(['rsnew']);
    } finally {
      tcr(['rm', '-f', 'rsnew', 'rmnew']);
    }
    expect([states(), names()]).toEqual([[], []]);
  });

  it.skipIf(!haveCni)("on a user network the others' hosts files and DNS follow the running container's new name", async () => {
    const net = `tcrgap${process.pid}`;
    expect(tcr(['network', 'create', '--subnet', freeSubnet(220), net]).stderr).toBe('');
    const bridge = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge as string;
    try {
      expect(tcr(['run', '-d', '--network', net, '--name', 'peer', 'busybox', 'sleep', '300']).status).toBe(0);
      expect(tcr(['run', '-d', '--network', net, '--name', 'target', '--network-alias', 'svc', 'busybox', 'sleep', '300']).status).toBe(0);
      const ipOf = (name: string) =>
        (JSON.parse(tcr(['inspect', name]).stdout) as { NetworkSettings: { Networks: Record<string, { IPAddress: string }> } }[])[0]
          .NetworkSettings.Networks[net].IPAddress;
      const ip = ipOf('target');
      expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
      const hostsLine = () =>
        tcr(['exec', 'peer', 'cat', '/etc/hosts'])
          .stdout.split('\n')
          .find((l) => l.startsWith(`${ip}\t`) || l.startsWith(`${ip} `));
      expect(hostsLine()).toMatch(/\starget\b.*\ssvc$/);
      expect(tcr(['rename', 'target', 'moved']).status).toBe(0);
      // the host name stays (as docker's), the container name follows, the aliases stay
      expect(hostsLine()?.split(/\s+/)).toEqual([ip, 'target', 'moved', 'svc']);
      expect(tcr(['exec', 'moved', 'cat', '/etc/hosts']).stdout).toContain('moved');
      if (fs.existsSync('/usr/lib/podman/aardvark-dns')) {
        const lookup =
          'for i in $(seq 1 25); do a=$(nslookup moved 2>/dev/null | sed -n \'/^Name:/{n;s/^Address:* *//p;q}\'); [ -n "$a" ] && break; sleep 0.2; done; echo "$a"';
        expect(tcr(['exec', 'peer', 'sh', '-c', lookup]).stdout).toBe(`${ip}\n`);
      }
      // restarted, it is attached again under the new name
      expect(tcr(['restart', '-t', '0', 'moved']).status).toBe(0);
      const again = ipOf('moved');
      const line = tcr(['exec', 'peer', 'cat', '/etc/hosts'])
        .stdout.split('\n')
        .find((l) => l.startsWith(`${again}\t`) || l.startsWith(`${again} `));
      expect(line?.split(/\s+/)).toEqual([again, 'target', 'moved', 'svc']);
      expect(tcr(['rm', '-f', 'moved']).status).toBe(0);
      expect(tcr(['exec', 'peer', 'cat', '/etc/hosts']).stdout).not.toContain('moved');
    } finally {
      tcr(['rm', '-f', 'peer', 'target', 'moved']);
      tcr(['network', 'rm', net]);
      dropBridge(bridge);
    }
  });
});
