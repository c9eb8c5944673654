// Docker's user-network behaviour beyond /etc/hosts: names by DNS
// (aardvark-dns on the gateway, started with the first container and
// stopped after the last), isolation between networks with NAT to the
// outside kept, `network connect|disconnect`, --internal, and the network
// commands' flags. Traffic only on tcr's bridges of 10.89.x.0/24 made here
// and on a namespace the test makes; everything removed in afterAll.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { OCI, attachmentOf, freePort, freeSubnet, haveCni, leftovers, outsideHost } from './network-lib.js';

const DNS_DIR = '/run/tcr-net/dns';
const haveAardvark = fs.existsSync('/usr/lib/podman/aardvark-dns');

/** aardvark's pid while it runs for tcr (its pid file names a live process). */
function aardvarkPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(path.join(DNS_DIR, 'aardvark.pid'), 'utf8'));
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('aardvark-dns') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** A shell loop in the container: `nslookup NAME` until it answers (aardvark reloads after a SIGHUP), printing the address. */
const lookup = (name: string) =>
  `for i in $(seq 1 25); do a=$(nslookup ${name} 2>/dev/null | sed -n '/^Name:/{n;s/^Address:* *//p;q}'); [ -n "$a" ] && break; sleep 0.2; done; echo "${name}=$a"`;

describe.skipIf(lacks(isRoot && fs.existsSync(OCI) && haveCni && haveAardvark))('user networks: DNS, isolation, connect', () => {
  const sb = new Sandbox('tcr-netdns');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const netA = `tcrdnsa${process.pid}`;
  const netB = `tcrdnsb${process.pid}`;
  const bridges: Record<string, string> = {};
  const sleeper = (name: string, net: string, extra: string[] = []) =>
    expect(tcr(['run', '-d', '--name', name, '--network', net, ...extra, 'busybox', 'sleep', '120']).stderr).toBe('');
  const exec = (id: string, script: string) => tcr(['exec', id, 'sh', '-c', script]);

  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
    for (const [n, from] of [
      [netA, 180],
      [netB, 190],
    ] as const) {
      expect(tcr(['network', 'create', '--subnet', freeSubnet(from), '--label', `test=${process.pid}`, n]).stderr).toBe('');
      bridges[n] = JSON.parse(tcr(['network', 'inspect', n]).stdout)[0].Bridge;
    }
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    for (const n of [netA, netB, `${netA}i`]) tcr(['network', 'rm', n]);
    sb.cleanup();
  });

  it('resolves names and aliases by DNS on a user network, a later container too; aardvark stops after the last', () => {
    sleeper('first', netA, ['--network-alias', 'db.internal']);
    try {
      const r = tcr([
        'run',
        '--rm',
        '--name',
        'second',
        '--network',
        netA,
        'busybox',
        'sh',
        '-c',
        `cat /etc/resolv.conf; ${lookup('first')}; ${lookup('db.internal')}`,
      ]);
      expect(r.stderr).toBe('');
      const gw = JSON.parse(tcr(['network', 'inspect', netA]).stdout)[0].Gateway;
      expect(r.stdout).toMatch(new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}$`, 'm'));
      expect(r.stdout).not.toMatch(new RegExp(`^nameserver (?!${gw.replace(/\./g, '\\.')}$)`, 'm'));
      const ip = attachmentOf(sb, 'first').address!;
      expect(r.stdout).toContain(`first=${ip}\n`);
      expect(r.stdout).toContain(`db.internal=${ip}\n`);
      expect(fs.readFileSync(path.join(DNS_DIR, bridges[netA]), 'utf8')).toContain(` ${ip}  first`);
      // --dns on a user network: the resolver stays aardvark, which forwards the container's other names there
      const withDns = tcr(['run', '-d', '--name', 'withdns', '--network', netA, '--dns', '192.0.2.53', 'busybox', 'sleep', '60']);
      expect(withDns.stderr).toBe('');
      expect(fs.readFileSync(path.join(store, 'containers', 'withdns', 'resolv.conf'), 'utf8')).toMatch(
        new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}\n`, 'm'),
      );
      expect(fs.readFileSync(path.join(DNS_DIR, bridges[netA]), 'utf8')).toContain(
        ` ${attachmentOf(sb, 'withdns').address}  withdns 192.0.2.53\n`,
      );
      expect(aardvarkPid()).toBeDefined();
      // one started after the first: the first finds it by DNS
      sleeper('later', netA);
      const later = exec('first', lookup('later'));
      expect(later.stdout).toBe(`later=${attachmentOf(sb, 'later').address}\n`);
      // aardvark killed -9: the next change starts it again
      process.kill(aardvarkPid()!, 'SIGKILL');
      sleeper('third', netA);
      expect(exec('first', lookup('third')).stdout).toBe(`third=${attachmentOf(sb, 'third').address}\n`);
    } finally {
      tcr(['rm', '-f', 'first', 'later', 'third', 'withdns']);
    }
    // the network's file went with its last container; with no other network's, the daemon too
    expect(fs.existsSync(path.join(DNS_DIR, bridges[netA]))).toBe(false);
    if (!fs.readdirSync(DNS_DIR).filter((f) => f !== 'aardvark.pid').length) expect(aardvarkPid()).toBeUndefined();
  });

  it('the default bridge has no DNS by name, as in docker: the host resolvers, and peers unknown', () => {
    expect(tcr(['run', '-d', '--name', 'dflt', 'busybox', 'sleep', '60']).stderr).toBe('');
    try {
      const r = tcr(['run', '--rm', 'busybox', 'sh', '-c', 'cat /etc/resolv.conf; nslookup dflt 2>&1 | grep -c "^Name:" || true']);
      expect(r.stdout).not.toContain('nameserver 10.89.0.1');
      expect(r.stdout.trim().split('\n').pop()).toBe('0');
    } finally {
      tcr(['rm', '-f', 'dflt']);
    }
  });

  describe('isolation and the outside', () => {
    let outside = '';
    let stopOutside = () => {};
    beforeAll(() => {
      const o = outsideHost('tcriso', 240, path.join(sb.dir, 'outside-www'), 'outside\n');
      outside = o.address;
      stopOutside = o.stop;
    });
    afterAll(() => stopOutside());
    const get = (url: string) => `for i in $(seq 1 10); do timeout 2 wget -q -O - ${url} && break; sleep 0.2; done`;

    it('a container on network A cannot reach one on B; both reach the outside through NAT; --internal reaches only its own', () => {
      sleeper('ona', netA);
      sleeper('onb', netB);
      expect(tcr(['network', 'create', '--internal', '--subnet', freeSubnet(250), `${netA}i`]).stderr).toBe('');
      sleeper('oni', `${netA}i`);
      sleeper('oni2', `${netA}i`);
      try {
        const b = attachmentOf(sb, 'onb').address!;
        expect(exec('ona', `ping -c 2 -W 1 ${b} >/dev/null && echo reached || echo isolated`).stdout).toBe('isolated\n');
        expect(exec('onb', `ping -c 2 -W 1 ${attachmentOf(sb, 'ona').address} >/dev/null && echo reached || echo isolated`).stdout).toBe(
          'isolated\n',
        );
        expect(exec('ona', get(`http://${outside}:8080/`)).stdout).toBe('outside\n');
        expect(exec('onb', get(`http://${outside}:8080/`)).stdout).toBe('outside\n');
        // internal: no default route, the outside unreachable, its peer reachable (by name, by DNS too)
        const i = exec(
          'oni',
          `ip route | grep -c default; ping -c 1 -W 1 ${outside} >/dev/null && echo out || echo no-out; ${lookup('oni2')}; ping -c 1 -W 2 oni2 >/dev/null && echo peer`,
        );
        expect(i.stdout).toBe(`0\nno-out\noni2=${attachmentOf(sb, 'oni2').address}\npeer\n`);
      } finally {
        tcr(['rm', '-f', 'ona', 'onb', 'oni', 'oni2']);
        expect(tcr(['network', 'rm', `${netA}i`]).status).toBe(0);
      }
    });
  });

  it('network connect adds eth1 with the names there (hosts, DNS, inspect); disconnect takes it away', () => {
    sleeper('cona', netA);
    sleeper('conb', netB);
    try {
      const r = tcr(['network', 'connect', '--alias', 'bee', netA, 'conb']);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const nets = JSON.parse(tcr(['inspect', 'conb']).stdout)[0].NetworkSettings.Networks;
      expect(Object.keys(nets).sort()).toEqual([netA, netB].sort());
      expect(nets[netA].Aliases).toContain('bee');
      const onA = nets[netA].IPAddress;
      expect(onA).toMatch(/^10\.89\.\d+\.\d+$/);
      expect(exec('conb', 'ip -4 -o addr show eth1').stdout).toContain(`inet ${onA}/`);
      // the one on A finds it by name and alias, by DNS and in /etc/hosts, and reaches it
      const seen = exec('cona', `${lookup('conb')}; ${lookup('bee')}; grep -c conb /etc/hosts; ping -c 1 -W 2 bee >/dev/null && echo ok`);
      expect(seen.stdout).toBe(`conb=${onA}\nbee=${onA}\n1\nok\n`);
      expect(exec('conb', lookup('cona')).stdout).toBe(`cona=${attachmentOf(sb, 'cona').address}\n`);
      expect(tcr(['network', 'connect', netA, 'conb']).stderr).toMatch(/already connected to network/);

      const d = tcr(['network', 'disconnect', netA, 'conb']);
      expect(d.stderr).toBe('');
      expect(Object.keys(JSON.parse(tcr(['inspect', 'conb']).stdout)[0].NetworkSettings.Networks)).toEqual([netB]);
      expect(exec('conb', 'ls /sys/class/net | sort').stdout).toBe('eth0\nlo\n');
      expect(exec('cona', 'grep -c conb /etc/hosts || true').stdout).toBe('0\n');
      expect(fs.readFileSync(path.join(DNS_DIR, bridges[netA]), 'utf8')).not.toContain(onA);
      const cases: [string[], RegExp][] = [
        [['network', 'disconnect', netB, 'conb'], /its only network/],
        [['network', 'disconnect', netA, 'conb'], /not connected to network/],
        [['network', 'connect', netA, 'nosuch'], /no such container: nosuch/],
        [['network', 'connect', 'nosuchnet', 'conb'], /network nosuchnet not found/],
      ];
      for (const [args, msg] of cases) {
        const e = tcr(args);
        expect(e.stderr).toMatch(msg);
        expect(e.status).toBe(125);
      }
    } finally {
      tcr(['rm', '-f', 'cona', 'conb']);
    }
    expect(leftovers(sb, 'conb', {}, bridges[netA])).toEqual([]);
  });

  it('inspect keeps HostConfig.PortBindings after the stop, with NetworkSettings.Ports emptied', async () => {
    const port = await freePort();
    expect(tcr(['run', '-d', '--name', 'ports', '-p', `127.0.0.1:${port}:80`, 'busybox', 'sleep', '60']).stderr).toBe('');
    try {
      const binding = { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: String(port) }] };
      expect(JSON.parse(tcr(['inspect', 'ports']).stdout)[0].NetworkSettings.Ports).toEqual(binding);
      expect(tcr(['stop', '-t', '1', 'ports']).status).toBe(0);
      const c = JSON.parse(tcr(['inspect', 'ports']).stdout)[0];
      expect(c.HostConfig.PortBindings).toEqual(binding);
      expect(c.NetworkSettings.Ports).toEqual({});
      expect(c.NetworkSettings.Networks).toEqual({});
    } finally {
      tcr(['rm', '-f', 'ports']);
    }
  });

  it('network ls --filter, --format, -q; prune removes unused user networks only; bad flags exit 125', () => {
    const ls = (args: string[]) => tcr(['network', 'ls', ...args]).stdout;
    expect(
      ls(['-q', '--filter', `label=test=${process.pid}`])
        .split('\n')
        .filter(Boolean)
        .sort(),
    ).toEqual([netA, netB].sort());
    expect(ls(['--filter', `name=${netA}`, '--format', '{{.Name}} {{.Driver}} {{.Internal}}'])).toBe(`${netA} bridge false\n`);
    expect(ls(['-q', '--filter', 'type=builtin'])).toBe('bridge\nhost\nnone\n');
    expect(ls(['-q', '--filter', 'driver=null'])).toBe('none\n');
    const id = JSON.parse(tcr(['network', 'inspect', netB]).stdout)[0].Id;
    expect(ls(['-q', '--filter', `id=${id.slice(0, 8)}`])).toBe(`${netB}\n`);

    const spare = `${netA}p`;
    expect(tcr(['network', 'create', '--label', `prune=${process.pid}`, spare]).status).toBe(0);
    sleeper('keeper', netB);
    try {
      const p = tcr(['network', 'prune', '-f', '--filter', `label=test=${process.pid}`]);
      // netA is unused: gone; netB has a container: kept; the spare lacks the label: kept
      expect(p.stdout).toBe(`Deleted Networks:\n${netA}\n`);
      expect(ls(['-q'])).toContain(netB);
      expect(ls(['-q'])).toContain(spare);
      expect(tcr(['network', 'rm', spare]).status).toBe(0);
      expect(tcr(['network', 'create', '--subnet', freeSubnet(180), netA]).status).toBe(0);
      bridges[netA] = JSON.parse(tcr(['network', 'inspect', netA]).stdout)[0].Bridge;
    } finally {
      tcr(['rm', '-f', 'keeper']);
    }
    const cases: [string[], RegExp][] = [
      [['network', 'ls', '--filter', 'color=red'], /--filter "color=red": give KEY=VALUE, KEY one of name, id, driver, label, type/],
      [
        ['network', 'create', '--subnet', '10.89.252.0/24', '--gateway', '10.89.252.0', 'x1'],
        /--gateway 10\.89\.252\.0: the subnet's network or broadcast address/,
      ],
      [['network', 'create', '--subnet', '10.89.252.0/24', '--gateway', '10.89.253.1', 'x1'], /--gateway 10\.89\.253\.1: not in --subnet/],
      [['network', 'create', '-d', 'macvlan', 'x1'], /--driver macvlan: only bridge networks are supported/],
      [['network', 'create', '--label', '=v', 'x1'], /--label "=v": give KEY=VALUE/],
      [['network', 'create', netB], /already exists/],
    ];
    for (const [args, msg] of cases) {
      const e = tcr(args);
      expect(e.stderr).toMatch(msg);
      expect(e.status).toBe(125);
    }
    expect(ls(['-q'])).not.toContain('x1');
  });

  it('network rm drops the entries a killed removal left, so no aardvark claims the gone gateway', () => {
    const net = `${netA}s`;
    expect(tcr(['network', 'create', '--subnet', freeSubnet(245), net]).stderr).toBe('');
    const file = path.join(DNS_DIR, JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge);
    // a network whose store went without rm: its bridge is gone, its file stayed (no tcr-HEX device is named with a g)
    const orphan = path.join(DNS_DIR, `tcr-g${process.pid.toString(16).padStart(10, '0')}`);
    try {
      fs.mkdirSync(DNS_DIR, { recursive: true });
      fs.writeFileSync(orphan, '10.89.254.1\nfeed 10.89.254.5  ghost \n');
      sleeper('leaver', net);
      // the first change after drops it
      expect(fs.existsSync(orphan)).toBe(false);
      const entries = fs.readFileSync(file, 'utf8');
      expect(entries).toContain(' leaver');
      expect(tcr(['rm', '-f', 'leaver']).stderr).toBe('');
      // what an rm killed -9 between its DEL and the rewrite leaves: the file as it was
      fs.writeFileSync(file, entries);
      expect(tcr(['network', 'rm', net]).stderr).toBe('');
      expect(fs.existsSync(file)).toBe(false);
    } finally {
      tcr(['rm', '-f', 'leaver']);
      tcr(['network', 'rm', net]);
      fs.rmSync(file, { force: true });
      fs.rmSync(orphan, { force: true });
    }
  });
});
