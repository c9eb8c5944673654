// IPv6 on user networks, as docker's `network create --ipv6` has it: both
// addresses in a container (host-local's two ranges) with an IPv6 default
// route, inspect's IPv6 fields, /etc/hosts and aardvark-dns's AAAA answers,
// traffic between containers over IPv6, -p published on IPv6 too, NAT to
// the outside and isolation between networks in ip6tables, and nothing left
// after rm and network rm. Subnets: private ULA /64s of fd7c:1c:PID::/48 and
// 10.89.x.0/24s no route uses; the outside is a namespace the test makes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, Sandbox, isRoot, lacks } from '../helpers.js';
import { IPAM, OCI, attachmentOf, eventually, freePort, freeSubnet, haveCni, httpGet, leftovers, sh } from './network-lib.js';

const haveIPv6 = fs.existsSync('/proc/net/if_inet6') && spawnSync('ip6tables', ['-w', '-S', 'FORWARD']).status === 0;
const haveAardvark = fs.existsSync('/usr/lib/podman/aardvark-dns');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni && haveIPv6 && haveAardvark))('IPv6 on user networks', () => {
  const sb = new Sandbox('tcr-netv6');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const exec = (id: string, script: string) => tcr(['exec', id, 'sh', '-c', script]);
  // a /48 of our own per test process: fd7c:1c:PID::/48, a /64 of it per network
  const prefix = `fd7c:1c:${(process.pid % 0xffff).toString(16)}`;
  const netA = `tcrv6a${process.pid}`;
  const netB = `tcrv6b${process.pid}`;
  const subnetA = `${prefix}:a::/64`;
  const bridges: Record<string, string> = {};
  const inspectNet = (n: string) => JSON.parse(tcr(['network', 'inspect', n]).stdout)[0];
  const serve = (page: string) => ['sh', '-c', `mkdir -p /www && echo ${page} > /www/index.html && exec httpd -f -p 80 -h /www`];
  const run = (name: string, net: string, extra: string[], cmd: string[] = ['sleep', '120']) =>
    expect(tcr(['run', '-d', '--name', name, '--network', net, ...extra, 'busybox', ...cmd]).stderr).toBe('');
  const get = (url: string) => `for i in $(seq 1 10); do timeout 2 wget -q -O - ${url} && break; sleep 0.2; done`;

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    const a = tcr(['network', 'create', '--ipv6', '--subnet', freeSubnet(200), '--subnet', subnetA, netA]);
    expect(a.stderr).toBe('');
    // no IPv6 subnet given: a free ULA /64 picked
    expect(tcr(['network', 'create', '--ipv6', '--subnet', freeSubnet(205), netB]).stderr).toBe('');
    for (const n of [netA, netB]) bridges[n] = inspectNet(n).Bridge;
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    for (const n of [netA, netB, `${netA}x`, `${netA}i`]) tcr(['network', 'rm', n]);
    sb.cleanup();
  });

  it('create --ipv6 makes two IPAM configs (a ULA /64 when none is given); inspect shows them, ls keeps its columns', () => {
    const a = inspectNet(netA);
    expect(a.EnableIPv6).toBe(true);
    expect(a.IPAM.Config).toEqual([
      { Subnet: a.Subnet, Gateway: a.Gateway },
      { Subnet: subnetA, Gateway: `${prefix}:a::1` },
    ]);
    const b = inspectNet(netB).IPAM.Config[1];
    expect(b.Subnet).toMatch(/^fd[0-9a-f]{2}:[0-9a-f:]+\/64$/);
    expect(b.Gateway).toBe(b.Subnet.replace('::/64', '::1'));
    expect(tcr(['network', 'ls', '--filter', `name=${netA}`, '--format', '{{.Name}} {{.IPv6}}']).stdout).toBe(`${netA} true\n`);
    expect(
      tcr(['network', 'ls'])
        .stdout.split('\n')[0]
        .split(/\s{2,}/),
    ).toEqual(['NETWORK ID', 'NAME', 'DRIVER', 'SUBNET', 'BRIDGE']);
    expect(inspectNet('bridge').EnableIPv6).toBe(false);
  });

  it('refuses bad IPv6 flags with exit 125, naming the flag, and makes nothing', () => {
    const x = `${netA}x`;
    const cases: [string[], RegExp][] = [
      [['--subnet', `${prefix}:f::/64`], /--subnet fd7c:\S+: an IPv6 subnet needs --ipv6/],
      [['--ipv6', '--subnet', `${prefix}:a:1::/80`], new RegExp(`--subnet \\S+: overlaps network ${netA}`)],
      [['--ipv6', '--subnet', `${prefix}:f::/130`], /--subnet: "\S+" is not an IPv6 subnet/],
      [['--ipv6', '--subnet', `${prefix}:f::/64`, '--subnet', `${prefix}:e::/64`], /--subnet: one IPv6 value at most/],
      [['--ipv6', '--subnet', `${prefix}:f::/64`, '--gateway', `${prefix}:e::1`], /--gateway \S+: not in --subnet/],
      [['--ipv6', '--subnet', 'fe80::/64'], /--subnet fe80::\/64: overlaps link-local/],
      [['--ipv6', '--subnet', 'fd7c:zz::/64'], /--subnet: "fd7c:zz::" is not an IPv6 address/],
      [['--gateway', `${prefix}:f::1`], /--gateway \S+: an IPv6 gateway needs --ipv6/],
    ];
    for (const [flags, msg] of cases) {
      const r = tcr(['network', 'create', ...flags, x]);
      expect(r.stderr).toMatch(msg);
      expect(r.status).toBe(125);
    }
    expect(tcr(['network', 'ls', '-q']).stdout.split('\n')).not.toContain(x);
    const p = tcr(['run', '--rm', '--network', netA, '-p', '[::1]:8080:80', 'busybox', 'true']);
    expect(p.stderr).toMatch(/-p \[::1\]:8080:80: the host's ::1 cannot be forwarded/);
    expect(p.status).toBe(125);
    const v4only = tcr(['run', '--rm', '--network', 'bridge', '-p', `[${prefix}:a::99]:8080:80`, 'busybox', 'true']);
    expect(v4only.stderr).toMatch(/network bridge has no IPv6/);
    expect(v4only.status).toBe(125);
  });

  it('gives a container both addresses, an IPv6 route, inspect fields, hosts lines and AAAA answers; peers talk over IPv6', () => {
    run('v6srv', netA, ['--network-alias', 'web.v6'], serve('over-v6'));
    run('v6cli', netA, []);
    try {
      const nets = JSON.parse(tcr(['inspect', 'v6srv']).stdout)[0].NetworkSettings.Networks[netA];
      expect(nets.GlobalIPv6Address).toMatch(new RegExp(`^${prefix}:a::[0-9a-f]+$`));
      expect(nets.GlobalIPv6PrefixLen).toBe(64);
      expect(nets.IPv6Gateway).toBe(`${prefix}:a::1`);
      expect(nets.IPAddress).toMatch(/^10\.89\.\d+\.\d+$/);
      const srv6 = nets.GlobalIPv6Address;
      const seen = exec(
        'v6cli',
        [
          `ip -6 -o addr show dev eth0 scope global | awk '{print $4}'`,
          'ip -6 route show default | cut -d" " -f1-3',
          `grep -c "^${srv6}\tv6srv" /etc/hosts`,
          // aardvark at both gateways, as podman lists them
          'grep ^nameserver /etc/resolv.conf | cut -d" " -f2 | tr "\\n" " "; echo',
          // AAAA for the name and for the alias, from aardvark at the gateways (IPv4's and IPv6's)
          `nslookup -type=AAAA v6srv | grep -c "Address: ${srv6}"`,
          `nslookup -type=AAAA web.v6 ${prefix}:a::1 | grep -c "Address: ${srv6}"`,
          `ping6 -c 1 -W 2 v6srv >/dev/null && echo ping6`,
          get(`http://[${srv6}]/`),
        ].join('; '),
      );
      const cli6 = JSON.parse(tcr(['inspect', 'v6cli']).stdout)[0].NetworkSettings.Networks[netA].GlobalIPv6Address;
      const gw4 = inspectNet(netA).Gateway;
      expect(seen.stdout).toBe(`${cli6}/64\ndefault via ${prefix}:a::1\n1\n${gw4} ${prefix}:a::1 \n1\n1\nping6\nover-v6\n`);
      expect(inspectNet(netA).Containers.v6srv.IPv6Address).toBe(srv6);
    } finally {
      tcr(['rm', '-f', 'v6srv', 'v6cli']);
    }
  });

  it('network connect gives eth1 an IPv6 address and route too; disconnect gives them back', () => {
    run('v6con', 'bridge', []);
    try {
      expect(tcr(['network', 'connect', netA, 'v6con']).stderr).toBe('');
      const six = JSON.parse(tcr(['inspect', 'v6con']).stdout)[0].NetworkSettings.Networks[netA].GlobalIPv6Address;
      expect(six).toMatch(new RegExp(`^${prefix}:a::`));
      const seen = exec('v6con', `ip -6 -o addr show dev eth1 scope global | awk '{print $4}'; ip -6 route show default | cut -d" " -f1-5`);
      expect(seen.stdout).toBe(`${six}/64\ndefault via ${prefix}:a::1 dev eth1\n`);
      expect(tcr(['network', 'disconnect', netA, 'v6con']).stderr).toBe('');
      expect(fs.readdirSync(path.join(IPAM, netA))).not.toContain(six);
    } finally {
      tcr(['rm', '-f', 'v6con']);
    }
  });

  describe('the outside over IPv6', () => {
    const ns = `tcrv6o${process.pid}`;
    const hostIf = `tcr6o${process.pid % 100000}`;
    const hostAddr = `${prefix}:ff::1`;
    const outside = `${prefix}:ff::2`;
    let server: ChildProcess | undefined;
    beforeAll(() => {
      sh('ip', ['netns', 'add', ns]);
      sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      // no DAD on the two ends the test made: the addresses are usable at once
      sh('sysctl', ['-qw', `net.ipv6.conf.${hostIf}.accept_dad=0`]);
      sh('ip', ['netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.eth0.accept_dad=0']);
      sh('ip', ['-6', 'addr', 'add', `${hostAddr}/64`, 'dev', hostIf]);
      sh('ip', ['link', 'set', hostIf, 'up']);
      sh('ip', ['-n', ns, '-6', 'addr', 'add', `${outside}/64`, 'dev', 'eth0']);
      sh('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      const www = path.join(sb.dir, 'outside-www');
      fs.mkdirSync(www);
      fs.writeFileSync(path.join(www, 'index.html'), 'outside\n');
      server = spawn(
        'ip',
        ['netns', 'exec', ns, path.join(DEMO, 'rootfs', 'bin', 'busybox'), 'httpd', '-f', '-p', '[::]:8080', '-h', www],
        {
          stdio: 'ignore',
        },
      );
    });
    afterAll(() => {
      server?.kill('SIGKILL');
      spawnSync('ip', ['link', 'delete', hostIf]);
      spawnSync('ip', ['netns', 'delete', ns]);
    });

    it('reaches the outside through IPv6 NAT; a published port answers on the host IPv6 addresses; networks stay apart', async () => {
      const port = await freePort();
      const port2 = await freePort();
      run('v6pub', netA, ['-p', `${port}:80`, '-p', `[${hostAddr}]:${port2}:80`], serve('published'));
      run('v6other', netB, []);
      try {
        // the outside has no route to the containers' subnet: only a masqueraded request comes back
        expect(exec('v6pub', get(`http://[${outside}]:8080/`)).stdout).toBe('outside\n');
        expect(await eventually(() => httpGet(`http://[${hostAddr}]:${port}/`))).toBe('published\n');
        expect(await eventually(() => httpGet(`http://[${hostAddr}]:${port2}/`))).toBe('published\n');
        // from the outside namespace, by the host's address on its link (PREROUTING's DNAT); node there, as busybox's
        // wget outside its root has no name service to load
        const fetch = `require('http').get(process.argv[1], { timeout: 3000 }, (r) => r.pipe(process.stdout)).on('error', (e) => console.log(e.message))`;
        const o = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', fetch, `http://[${hostAddr}]:${port}/`], {
          encoding: 'utf8',
        });
        expect(o.stdout).toBe('published\n');
        // and still on IPv4
        expect(await eventually(() => httpGet(`http://127.0.0.1:${port}/`))).toBe('published\n');
        const pub6 = attachmentOf(sb, 'v6pub').address6!;
        expect(exec('v6other', `ping6 -c 2 -W 1 ${pub6} >/dev/null && echo reached || echo isolated`).stdout).toBe('isolated\n');
      } finally {
        tcr(['rm', '-f', 'v6pub', 'v6other']);
      }
    }, 60_000);

    it('an --internal network with IPv6 has no IPv6 route out and reaches only its own', () => {
      const net = `${netA}i`;
      expect(
        tcr(['network', 'create', '--internal', '--ipv6', '--subnet', freeSubnet(220), '--subnet', `${prefix}:c::/64`, net]).stderr,
      ).toBe('');
      run('v6in1', net, []);
      run('v6in2', net, []);
      try {
        const peer = attachmentOf(sb, 'v6in2').address6!;
        const seen = exec(
          'v6in1',
          `ip -6 route show default | grep -c default; ping6 -c 1 -W 1 ${outside} >/dev/null && echo out || echo no-out; ping6 -c 1 -W 2 ${peer} >/dev/null && echo peer`,
        );
        expect(seen.stdout).toBe('0\nno-out\npeer\n');
      } finally {
        tcr(['rm', '-f', 'v6in1', 'v6in2']);
        expect(tcr(['network', 'rm', net]).status).toBe(0);
      }
    });
  });

  it('leaves no ip6tables rule, IPv6 lease or bridge after rm and network rm', () => {
    const net = `${netA}x`;
    expect(tcr(['network', 'create', '--ipv6', '--subnet', freeSubnet(215), '--subnet', `${prefix}:b::/64`, net]).stderr).toBe('');
    const bridge = inspectNet(net).Bridge;
    run('v6gone', net, ['-p', '8080']);
    const a = attachmentOf(sb, 'v6gone');
    expect(a.address6).toMatch(new RegExp(`^${prefix}:b::`));
    expect(sh('ip6tables-save', [])).toContain(a.address6);
    expect(tcr(['rm', '-f', 'v6gone']).stderr).toBe('');
    expect(leftovers(sb, 'v6gone', a, bridge)).toEqual([]);
    expect(tcr(['network', 'rm', net]).status).toBe(0);
    expect(
      sh('ip6tables-save', [])
        .split('\n')
        .filter((l) => l.includes(bridge) || l.includes(`${prefix}:b:`)),
    ).toEqual([]);
    expect(fs.existsSync(`/sys/class/net/${bridge}`)).toBe(false);
    expect(fs.existsSync(path.join(IPAM, net))).toBe(false);
  });
});
