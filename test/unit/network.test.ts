// The parts of bridge networking that need no root: -p and -P parsing,
// resolv.conf and /etc/hosts contents, --add-host, subnets, the CNI
// configuration a network becomes, and network definitions in a store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAddHost, resolvConf } from '../../src/network/etc-files.js';
import { baseHosts, renderHosts } from '../../src/network/hosts.js';
import { formatIPv4, parseIPv4, parseSubnet, prefixOfMask, subnetsOverlap } from '../../src/network/ipv4.js';
import { DEFAULT_DEF, conflistFor, createNetwork, listNetworks, readNetwork, removeNetwork } from '../../src/network/networks.js';
import { exposedPorts, parsePublish, resolvePorts } from '../../src/network/ports.js';
import type { NetworkRecord } from '../../src/network/record.js';

describe('-p and -P', () => {
  it('reads [IP:][HOST:]CTR[/proto], ranges, and leaves a missing host port to be chosen', () => {
    expect(parsePublish('8080:80')).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('127.0.0.1:5353:53/udp')).toEqual([{ hostPort: 5353, containerPort: 53, protocol: 'udp', hostIP: '127.0.0.1' }]);
    expect(parsePublish('127.0.0.1::80')).toEqual([{ hostPort: 0, containerPort: 80, protocol: 'tcp', hostIP: '127.0.0.1' }]);
    expect(parsePublish('0.0.0.0:81:80')).toEqual([{ hostPort: 81, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('80')).toEqual([{ hostPort: 0, containerPort: 80, protocol: 'tcp' }]);
    expect(parsePublish('9000-9001:90-91').map((m) => [m.hostPort, m.containerPort])).toEqual([
      [9000, 90],
      [9001, 91],
    ]);
  });

  it('names the flag and the reason for what it cannot read', () => {
    expect(() => parsePublish('80/sctp')).toThrow(/-p 80\/sctp: protocol "sctp" is not tcp or udp/);
    expect(() => parsePublish('70000:80')).toThrow(/-p 70000:80: "70000" is not a port/);
    expect(() => parsePublish('1:2:3:4')).toThrow(/give \[IP:\]\[HOST:\]CONTAINER/);
    expect(() => parsePublish('300.1.1.1:80:80')).toThrow(/is not an IPv4 address/);
    expect(() => parsePublish('9000-9002:90-91')).toThrow(/differ in length/);
  });

  it("-P takes the image's ExposedPorts; free host ports are chosen, a host port published twice is refused", async () => {
    const maps = exposedPorts({ '80/tcp': {}, '53/udp': {} });
    expect(maps.map((m) => `${m.containerPort}/${m.protocol}`)).toEqual(['80/tcp', '53/udp']);
    const resolved = await resolvePorts(maps);
    for (const m of resolved) expect(m.hostPort).toBeGreaterThan(0);
    await expect(resolvePorts([...parsePublish('8080:80'), ...parsePublish('8080:81')])).rejects.toThrow(
      /host port 8080\/tcp is published twice/,
    );
  });
});

describe('/etc/resolv.conf and /etc/hosts', () => {
  const host = 'search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions edns0\n';
  const none = { dns: [], dnsSearch: [], dnsOption: [] };

  it("keeps the host's servers but those on its loopback, which a namespace of its own cannot reach", () => {
    expect(resolvConf(host, { mode: 'private', ...none })).toBe('search lan\nnameserver 192.0.2.1\noptions edns0\n');
    expect(resolvConf(host, { mode: 'host', ...none })).toBe('search lan\nnameserver 127.0.0.53\nnameserver 192.0.2.1\noptions edns0\n');
    expect(resolvConf('nameserver 127.0.0.53\n', { mode: 'private', ...none })).toBe('nameserver 8.8.8.8\nnameserver 8.8.4.4\n');
  });

  it("--dns, --dns-search and --dns-option replace the host's", () => {
    expect(resolvConf(host, { mode: 'private', dns: ['10.0.0.2'], dnsSearch: ['a.test', 'b.test'], dnsOption: ['ndots:2'] })).toBe(
      'search a.test b.test\nnameserver 10.0.0.2\noptions ndots:2\n',
    );
    expect(() => resolvConf(host, { mode: 'private', ...none, dns: ['nope'] })).toThrow(/--dns nope: "nope" is not an IPv4 address/);
  });

  it('--add-host NAME:IP, NAME=IP and host-gateway', () => {
    expect(parseAddHost('db:10.1.2.3', undefined)).toEqual({ name: 'db', ip: '10.1.2.3' });
    expect(parseAddHost('db=10.1.2.3', undefined)).toEqual({ name: 'db', ip: '10.1.2.3' });
    expect(parseAddHost('v6:::1', undefined)).toEqual({ name: 'v6', ip: '::1' });
    expect(parseAddHost('gw:host-gateway', '10.89.0.1')).toEqual({ name: 'gw', ip: '10.89.0.1' });
    expect(() => parseAddHost('gw:host-gateway', undefined)).toThrow(/host-gateway needs a bridge network/);
    expect(() => parseAddHost('justaname', undefined)).toThrow(/--add-host "justaname": give NAME:IP/);
  });

  it("a container's hosts file: localhost, --add-host, its own names, then its peers'", () => {
    const rec = (ip: string | undefined, names: string[]): NetworkRecord => ({
      network: 'n',
      conflist: conflistFor(DEFAULT_DEF, { publishes: false, firewall: false }),
      cniId: 'x',
      ifname: 'eth0',
      netns: '/x',
      portMappings: [],
      result: ip ? { ips: [{ address: `${ip}/24` }] } : undefined,
      hosts: { file: '/x', base: baseHosts([{ name: 'db', ip: '10.1.2.3' }]), names },
      shareNames: true,
    });
    const text = renderHosts(rec('10.89.1.2', ['web', 'web', 'w.alias']), [rec('10.89.1.3', ['cli']), rec(undefined, ['not-yet'])]);
    expect(text.split('\n').slice(0, 2)).toEqual(['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback']);
    expect(text).toContain('10.1.2.3\tdb\n10.89.1.2\tweb w.alias\n10.89.1.3\tcli\n');
    expect(text).not.toContain('not-yet');
  });
});

describe('subnets and networks', () => {
  it('parses and compares IPv4 subnets', () => {
    expect(formatIPv4(parseIPv4('10.89.3.7', 'x'))).toBe('10.89.3.7');
    expect(parseSubnet('10.89.3.7/24', 'x')).toEqual({ base: parseIPv4('10.89.3.0', 'x'), prefix: 24 });
    expect(subnetsOverlap(parseSubnet('10.89.0.0/16', 'x'), parseSubnet('10.89.5.0/24', 'x'))).toBe(true);
    expect(subnetsOverlap(parseSubnet('10.89.4.0/24', 'x'), parseSubnet('10.89.5.0/24', 'x'))).toBe(false);
    expect(prefixOfMask(0xffffff00)).toBe(24);
    expect(() => parseSubnet('10.89.0.0', '--subnet')).toThrow(/--subnet: "10.89.0.0" is not a subnet/);
  });

  it('a network becomes bridge + host-local, with portmap only for published ports and firewall only where forwarding is filtered', () => {
    const plain = conflistFor(DEFAULT_DEF, { publishes: false, firewall: false });
    expect(plain.plugins.map((p) => p.type)).toEqual(['bridge']);
    expect(plain.plugins[0]).toMatchObject({
      bridge: 'tcr0',
      isGateway: true,
      ipMasq: false,
      tcrMasq: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.89.0.0/24', gateway: '10.89.0.1' }]] },
    });
    expect(conflistFor(DEFAULT_DEF, { publishes: true, firewall: true }).plugins.map((p) => p.type)).toEqual([
      'bridge',
      'portmap',
      'firewall',
    ]);
  });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-unit-net-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('create, list, read and remove user networks in a store; subnets do not overlap', () => {
    const a = createNetwork(dir, 'alpha', { subnet: '10.89.250.0/24' });
    expect(a).toMatchObject({ name: 'alpha', subnet: '10.89.250.0/24', gateway: '10.89.250.1', shareNames: true });
    expect(a.bridge).toMatch(/^tcr-[0-9a-f]{11}$/);
    expect(() => createNetwork(dir, 'beta', { subnet: '10.89.250.128/25' })).toThrow(/--subnet 10.89.250.128\/25: overlaps network alpha/);
    expect(() => createNetwork(dir, 'alpha', {})).toThrow(/network alpha already exists/);
    expect(() => createNetwork(dir, 'bridge', {})).toThrow(/a built-in network of that name exists/);
    expect(() => createNetwork(dir, 'bad name', {})).toThrow(/network name "bad name"/);
    expect(() => createNetwork(dir, 'gamma', { subnet: '10.89.251.0/24', gateway: '10.89.252.1' })).toThrow(
      /--gateway 10.89.252.1: not in --subnet/,
    );
    expect(listNetworks(dir).map((n) => n.name)).toEqual(['bridge', 'alpha']);
    expect(readNetwork(dir, 'alpha')).toEqual(a);
    removeNetwork(dir, 'alpha');
    expect(() => readNetwork(dir, 'alpha')).toThrow(/network alpha not found \(tcr network create alpha\)/);
  });
});
