// `tcr run --network`: what a container sees of its network (address,
// routes, /etc/hosts, resolv.conf, hostname), a page served through a
// published port, user networks by name and alias, container:NAME, NAT to an
// "outside" namespace the test makes, and nothing left after rm. Traffic
// only on tcr's bridges, on 10.89.x.0/24, and on namespaces made here.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import {
  attachmentOf,
  dropBridge,
  eventually,
  exposingLayout,
  freePort,
  freeSubnet,
  haveCni,
  httpGet,
  leftovers,
  outsideHost,
  OCI,
  sh,
} from './network-lib.js';

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni))('tcr run --network', () => {
  const sb = new Sandbox('tcr-net');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const net = `tcrnet${process.pid}`;
  let subnet = '';
  let bridge = '';
  const serve = (page: string) => ['sh', '-c', `mkdir -p /www && echo ${page} > /www/index.html && exec httpd -f -p 80 -h /www`];

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    expect(tcr(['import', '-q', exposingLayout(path.join(sb.dir, 'exposing')), 'exposing']).status).toBe(0);
    subnet = freeSubnet(200);
    const r = tcr(['network', 'create', '--subnet', subnet, net]);
    expect(r.stderr).toBe('');
    bridge = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge;
  });
  afterAll(() => {
    // what a failed test left running goes first, then the network (its bridge and lease directory)
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    tcr(['network', 'rm', net]);
    dropBridge(bridge);
    sb.cleanup();
  });

  it("a container on the default bridge has an address, a default route via the gateway, and docker's /etc files", () => {
    const r = tcr([
      'run',
      '--name',
      'plain',
      '-h',
      'box',
      'busybox',
      'sh',
      '-c',
      'ip -4 -o addr show eth0; cat /proc/net/route; echo ==; cat /etc/hosts; echo ==; cat /etc/resolv.conf; echo ==; cat /etc/hostname',
    ]);
    expect(r.stderr).toBe('');
    const [addr, hosts, resolv, hostname] = r.stdout.split('==\n');
    const ip = /inet (10\.89\.0\.\d+)\/24/.exec(addr)?.[1];
    expect(ip).toBeDefined();
    // the default route (destination 0) through 10.89.0.1, little-endian hex in /proc/net/route
    expect(addr).toMatch(/^eth0\s+00000000\s+0100590A\s/m);
    expect(hosts).toMatch(/^127\.0\.0\.1\tlocalhost$/m);
    expect(hosts).toContain(`${ip}\tbox plain\n`);
    const hostServers = fs
      .readFileSync('/etc/resolv.conf', 'utf8')
      .split('\n')
      .filter((l) => /^nameserver\s+(?!127\.)/.test(l))
      .map((l) => l.split(/\s+/)[1]);
    expect(
      resolv
        .split('\n')
        .filter((l) => l.startsWith('nameserver '))
        .map((l) => l.split(' ')[1]),
    ).toEqual(hostServers.length ? hostServers : ['8.8.8.8', '8.8.4.4']);
    expect(hostname).toBe('box\n');
    // kept (no --rm) but stopped: its address, lease and rules went back at the exit, as docker's do at stop
    expect(JSON.parse(fs.readFileSync(path.join(sb.root, 'plain', 'state.json'), 'utf8')).network).toBeUndefined();
    expect(leftovers(sb, 'plain', { address: ip })).toEqual([]);
    expect(tcr(['rm', 'plain']).status).toBe(0);
  });

  it('--dns, --dns-search, --add-host (host-gateway too) and --network host, which resolves names as the host does', () => {
    const r = tcr([
      'run',
      '--rm',
      '--dns',
      '10.89.0.53',
      '--dns-search',
      'example.test',
      '--add-host',
      'db:10.89.0.99',
      '--add-host',
      'gw:host-gateway',
      'busybox',
      'sh',
      '-c',
      'cat /etc/resolv.conf; cat /etc/hosts',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('search example.test\nnameserver 10.89.0.53\n');
    expect(r.stdout).not.toMatch(/nameserver (?!10\.89\.0\.53)/);
    expect(r.stdout).toContain('10.89.0.99\tdb\n');
    expect(r.stdout).toContain('10.89.0.1\tgw\n');
    const host = tcr([
      'run',
      '--rm',
      '--network',
      'host',
      'busybox',
      'sh',
      '-c',
      'cat /etc/resolv.conf; echo ==; cat /etc/hosts; echo ==; readlink /proc/self/ns/net',
    ]);
    const [resolv, hosts, netns] = host.stdout.split('==\n');
    expect(resolv.split('\n').filter((l) => l.startsWith('nameserver'))).toEqual(
      fs
        .readFileSync('/etc/resolv.conf', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('nameserver'))
        .map((l) => l.replace(/\s+/, ' ')),
    );
    expect(hosts).toBe(fs.readFileSync('/etc/hosts', 'utf8'));
    expect(netns.trim()).toBe(fs.readlinkSync('/proc/self/ns/net'));
    const none = tcr([
      'run',
      '--rm',
      '--network',
      'none',
      'busybox',
      'sh',
      '-c',
      'ls /sys/class/net; test -s /etc/resolv.conf && echo resolv',
    ]);
    expect(none.stdout).toBe('lo\nresolv\n');
  });

  it("serves a page through a published port (-p 127.0.0.1:HOST:80), reached from the host's loopback, and -P publishes EXPOSE", async () => {
    const port = await freePort();
    const d = tcr(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'busybox', ...serve('published-page')]);
    expect(d.stderr).toBe('');
    const a = attachmentOf(sb, 'web');
    try {
      expect(await eventually(() => httpGet(`http://127.0.0.1:${port}/`))).toBe('published-page\n');
      // stop gives the address, the port and the rules back; rm then has nothing of the network to undo
      expect(tcr(['stop', '-t', '1', 'web']).status).toBe(0);
      expect(leftovers(sb, 'web', a).filter((l) => !l.endsWith('/web/rootfs'))).toEqual([]); // the root stays mounted until rm
      await expect(httpGet(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    } finally {
      tcr(['rm', '-f', 'web']);
    }

    expect(tcr(['run', '-d', '--name', 'exposed', '-P', 'exposing', ...serve('exposed-page')]).stderr).toBe('');
    try {
      const rec = JSON.parse(fs.readFileSync(path.join(sb.root, 'exposed', 'state.json'), 'utf8'));
      const [m] = rec.network.portMappings;
      expect(m).toMatchObject({ containerPort: 80, protocol: 'tcp' });
      expect(m.hostPort).toBeGreaterThan(0);
      expect(await eventually(() => httpGet(`http://127.0.0.1:${m.hostPort}/`))).toBe('exposed-page\n');
    } finally {
      tcr(['rm', '-f', 'exposed']);
    }
  });

  it("containers on a user network reach each other by name and by alias, and leave each other's /etc/hosts when removed", () => {
    expect(
      tcr(['run', '-d', '--name', 'srv', '--network', net, '--network-alias', 'api.internal', 'busybox', ...serve('from-srv')]).stderr,
    ).toBe('');
    expect(tcr(['run', '-d', '--name', 'cli', '--network', net, 'busybox', 'sleep', '60']).stderr).toBe('');
    try {
      const srvHosts = () => fs.readFileSync(path.join(store, 'containers', 'srv', 'hosts'), 'utf8');
      expect(srvHosts()).toMatch(/\tcli\n/);
      const r = tcr([
        'run',
        '--rm',
        '--name',
        'probe',
        '--network',
        net,
        'busybox',
        'sh',
        '-c',
        'for i in 1 2 3 4 5 6 7 8 9 10; do timeout 2 wget -q -O - http://srv/ && break; sleep 0.2; done; timeout 3 wget -q -O - http://api.internal/; ping -c 1 -W 2 cli | head -1; ip -4 -o addr show eth0',
      ]);
      expect(r.stderr).toBe('');
      const cliIp = attachmentOf(sb, 'cli').address!;
      expect(r.stdout).toMatch(
        new RegExp(
          `^from-srv\nfrom-srv\nPING cli \\(${cliIp.replace(/\./g, '\\.')}\\).*\n.*inet ${subnet.replace(/0\/24$/, '').replace(/\./g, '\\.')}\\d+/24`,
        ),
      );
      expect(srvHosts()).not.toMatch(/\tprobe\n/);
      const inspect = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0];
      expect(Object.keys(inspect.Containers).sort()).toEqual(['cli', 'srv']);
      expect(inspect.Containers.srv.Names).toEqual(['srv', 'api.internal']);
      expect(tcr(['network', 'rm', net]).stderr).toMatch(/has containers attached: cli, srv/);
      const a = attachmentOf(sb, 'cli');
      expect(tcr(['rm', '-f', 'cli']).status).toBe(0);
      expect(srvHosts()).not.toMatch(/\tcli\n/);
      expect(leftovers(sb, 'cli', a)).toEqual([]);
    } finally {
      tcr(['rm', '-f', 'srv', 'cli']);
    }
    expect(leftovers(sb, 'srv', {}, bridge)).toEqual([]);
  });

  it("--network container:NAME shares that container's namespace, address and hosts", () => {
    expect(tcr(['run', '-d', '--name', 'owner', '--network', net, 'busybox', ...serve('owner-page')]).stderr).toBe('');
    try {
      const own = attachmentOf(sb, 'owner');
      const r = tcr([
        'run',
        '--rm',
        '--network',
        'container:owner',
        'busybox',
        'sh',
        '-c',
        'ip -4 -o addr show eth0; for i in 1 2 3 4 5 6 7 8 9 10; do timeout 2 wget -q -O - http://127.0.0.1/ && break; sleep 0.2; done; hostname; readlink /proc/1/ns/net',
      ]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`inet ${own.address}/24`);
      expect(r.stdout).toContain('owner-page\nowner\n');
      const pid = JSON.parse(tcr(['state', 'owner']).stdout).pid;
      expect(r.stdout.trim().split('\n').pop()).toBe(fs.readlinkSync(`/proc/${pid}/ns/net`));
    } finally {
      tcr(['rm', '-f', 'owner']);
    }
    expect(tcr(['run', '--rm', '--network', 'container:owner', 'busybox', 'true']).stderr).toMatch(
      /--network container:owner: no such container/,
    );
  });

  it('network ls, and rm of a network: its bridge and lease directory go; errors exit 125 naming the flag', () => {
    const other = `${net}b`;
    expect(tcr(['network', 'create', other]).status).toBe(0);
    const ls = tcr(['network', 'ls']).stdout;
    expect(ls).toMatch(new RegExp(`^[0-9a-f]{12}\\s+${other}\\s+bridge\\s+10\\.89\\.\\d+\\.0/24\\s+tcr-[0-9a-f]{11}$`, 'm'));
    expect(tcr(['network', 'ls', '-q']).stdout.split('\n')).toEqual(expect.arrayContaining(['bridge', net, other, 'host', 'none']));
    const otherBridge = JSON.parse(tcr(['network', 'inspect', other]).stdout)[0].Bridge;
    expect(tcr(['run', '--rm', '--network', other, 'busybox', 'true']).status).toBe(0);
    expect(fs.existsSync(`/sys/class/net/${otherBridge}`)).toBe(true);
    expect(tcr(['network', 'rm', other]).status).toBe(0);
    expect(fs.existsSync(`/sys/class/net/${otherBridge}`)).toBe(false);
    expect(fs.existsSync(`/run/tcr-net/ipam/${other}`)).toBe(false);
    expect(tcr(['network', 'ls', '-q']).stdout).not.toContain(other);

    const cases: [string[], RegExp][] = [
      [['run', '--rm', '--network', 'nosuch', 'busybox', 'true'], /network nosuch not found \(tcr network create nosuch\)/],
      [
        ['run', '--rm', '--network', 'none', '-p', '80:80', 'busybox', 'true'],
        /-p\/-P: ports are published only on a bridge network; --network none has no ports/,
      ],
      [
        ['run', '--rm', '--network-alias', 'x', 'busybox', 'true'],
        /--network-alias: names are shared only on a user network; bridge is the default one/,
      ],
      [['run', '--rm', '-p', '80:80/sctp', 'busybox', 'true'], /-p 80:80\/sctp: protocol "sctp" is not tcp or udp/],
      [['network', 'rm', 'nosuch'], /network nosuch not found/],
      [
        ['network', 'create', '--subnet', subnet, `${net}c`],
        new RegExp(`--subnet ${subnet.replace(/\./g, '\\.')}: overlaps network ${net}`),
      ],
    ];
    for (const [args, message] of cases) {
      const r = tcr(args);
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(125);
    }
    expect(fs.readdirSync(sb.root).filter((i) => !i.startsWith('.'))).toEqual([]);
  });

  describe('NAT to the outside', () => {
    // "outside": a namespace of the test's own, behind a veth, with no route back to the bridge
    let outside = '';
    let ns = '';
    let stopOutside = () => {};
    beforeAll(() => {
      const o = outsideHost('tcrout', 230, path.join(sb.dir, 'outside-www'), 'outside-page\n');
      outside = o.address;
      ns = o.ns;
      stopOutside = o.stop;
    });
    afterAll(() => stopOutside());

    it('a container reaches an address outside its bridge, masqueraded as the host', () => {
      const r = tcr([
        'run',
        '--rm',
        'busybox',
        'sh',
        '-c',
        `for i in 1 2 3 4 5 6 7 8 9 10; do timeout 2 wget -q -O - http://${outside}:8080/ && break; sleep 0.2; done`,
      ]);
      expect(r.stderr).toBe('');
      // the outside has no route to 10.89.0.0/24: an answer came back only through the host's NAT
      expect(r.stdout).toBe('outside-page\n');
      expect(sh('ip', ['-n', ns, 'route'])).not.toMatch(/10\.89\.0\./);
    });
  });
});
