// The parts of IPv6 networking that need no root: addresses and subnets,
// create's --subnet/--gateway sorted by family, a network's IPv6 half in a
// store and in its CNI configuration, -p with a bracketed address, and the
// hosts lines of a container with both addresses.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { renderHosts } from '../../src/network/hosts.js';
import { formatIPv6, parseIPv6, parseSubnet6, pickUla, reservedSpace, subnets6Overlap } from '../../src/network/ipv6.js';
import { ipamOptions } from '../../src/network/network-flags.js';
import { conflistFor, createNetwork } from '../../src/network/networks.js';
import { parsePublish } from '../../src/network/ports.js';
import type { NetworkRecord } from '../../src/network/record.js';

describe('IPv6 addresses and subnets', () => {
  it('parses and prints the canonical form', () => {
    for (const [text, canonical] of [
      ['fd7c:1c:0:0:0:0:0:1', 'fd7c:1c::1'],
      ['FD7C:001C::', 'fd7c:1c::'],
      ['::1', '::1'],
      ['::', '::'],
      ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
      ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
      ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ])
      expect(formatIPv6(parseIPv6(text, 'x'))).toBe(canonical);
    for (const bad of ['fd7c', '1::2::3', 'fd7c:zz::1', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7::8', '10.0.0.1'])
      expect(() => parseIPv6(bad, '--gateway')).toThrow(`--gateway: ${JSON.stringify(bad)} is not an IPv6 address`);
  });

  it('masks a subnet, tells overlaps and reserved space, and picks a free ULA /64', () => {
    const s = parseSubnet6('fd7c:1c:5::77/64', 'x');
    expect(formatIPv6(s.base)).toBe('fd7c:1c:5::');
    expect(subnets6Overlap(s, parseSubnet6('fd7c:1c::/32', 'x'))).toBe(true);
    expect(subnets6Overlap(s, parseSubnet6('fd7c:1c:6::/64', 'x'))).toBe(false);
    for (const bad of ['fd7c::/130', 'fd7c::/4', 'fd7c::', 'fd7c::/x'])
      expect(() => parseSubnet6(bad, '--subnet')).toThrow(/--subnet: ".*" is not an IPv6 subnet \(ADDR\/N, N from 8 to 120\)/);
    expect(reservedSpace(parseSubnet6('fe80::/64', 'x'))).toMatch(/link-local/);
    expect(reservedSpace(parseSubnet6('ff02::/16', 'x'))).toMatch(/multicast/);
    expect(reservedSpace(s)).toBeUndefined();
    const taken = parseSubnet6('fd00::/9', 'x'); // half of fd00::/8
    const picked = parseSubnet6(pickUla([taken]), 'x');
    expect(picked.prefix).toBe(64);
    expect(formatIPv6(picked.base)).toMatch(/^fd[89a-f][0-9a-f]:/);
  });
});

describe('network create with IPv6', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-unit-net6-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sorts --subnet and --gateway by family and refuses IPv6 ones without --ipv6', () => {
    expect(ipamOptions(['10.89.9.0/24', 'fd7c:1c:9::/64'], ['fd7c:1c:9::fe'], true)).toEqual({
      subnet: '10.89.9.0/24',
      gateway: undefined,
      ipv6: true,
      subnet6: 'fd7c:1c:9::/64',
      gateway6: 'fd7c:1c:9::fe',
    });
    expect(ipamOptions([], [], false)).toEqual({ subnet: undefined, gateway: undefined });
    expect(() => ipamOptions(['fd7c:1c:9::/64'], [], false)).toThrow('--subnet fd7c:1c:9::/64: an IPv6 subnet needs --ipv6');
    expect(() => ipamOptions(['10.89.9.0/24', '10.89.8.0/24'], [], false)).toThrow(/--subnet: one IPv4 value at most/);
    expect(() => ipamOptions([], ['fd7c::1'], true)).toThrow('--gateway fd7c::1: give the IPv6 --subnet it is in');
  });

  it('keeps the IPv6 half in the definition; overlaps and a gateway outside are refused', () => {
    const a = createNetwork(dir, 'six', { subnet: '10.89.249.0/24', ipv6: true, subnet6: 'fd7c:1c:f1::/64' });
    expect(a.ipv6).toEqual({ subnet: 'fd7c:1c:f1::/64', gateway: 'fd7c:1c:f1::1' });
    expect(() => createNetwork(dir, 'seven', { subnet: '10.89.248.0/24', ipv6: true, subnet6: 'fd7c:1c:f1:0:8000::/65' })).toThrow(
      '--subnet fd7c:1c:f1:0:8000::/65: overlaps network six (fd7c:1c:f1::/64)',
    );
    expect(() =>
      createNetwork(dir, 'seven', { subnet: '10.89.248.0/24', ipv6: true, subnet6: 'fd7c:1c:f2::/64', gateway6: 'fd7c:1c:f3::1' }),
    ).toThrow('--gateway fd7c:1c:f3::1: not in --subnet fd7c:1c:f2::/64');
    const picked = createNetwork(dir, 'eight', { subnet: '10.89.247.0/24', ipv6: true });
    expect(picked.ipv6?.subnet).toMatch(/^fd[0-9a-f]{2}:[0-9a-f:]+\/64$/);
    expect(createNetwork(dir, 'four', { subnet: '10.89.246.0/24' }).ipv6).toBeUndefined();
  });

  it('becomes a second host-local range and an IPv6 default route', () => {
    const def = createNetwork(dir, 'nine', { subnet: '10.89.245.0/24', ipv6: true, subnet6: 'fd7c:1c:f9::/64' });
    expect(conflistFor(def, { publishes: false, firewall: false }).plugins[0].ipam).toMatchObject({
      ranges: [[{ subnet: '10.89.245.0/24', gateway: '10.89.245.1' }], [{ subnet: 'fd7c:1c:f9::/64', gateway: 'fd7c:1c:f9::1' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    });
    expect(conflistFor({ ...def, internal: true }, { publishes: false, firewall: false }).plugins[0].ipam).toMatchObject({ routes: [] });
  });
});

describe('-p with an IPv6 host address', () => {
  it('takes the address in brackets, canonical, and refuses ::1', () => {
    expect(parsePublish('[fd7c:1c:0::5]:8080:80')).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'tcp', hostIP: 'fd7c:1c::5' }]);
    expect(parsePublish('[::]:8080:80/udp')).toEqual([{ hostPort: 8080, containerPort: 80, protocol: 'udp' }]);
    expect(parsePublish('[fd7c::5]::80')).toEqual([{ hostPort: 0, containerPort: 80, protocol: 'tcp', hostIP: 'fd7c::5' }]);
    expect(() => parsePublish('[::1]:8080:80')).toThrow(/-p \[::1\]:8080:80: the host's ::1 cannot be forwarded/);
    expect(() => parsePublish('[fd7c::5:8080:80')).toThrow(/give \[IPV6\]:HOST:CONTAINER/);
    expect(() => parsePublish('[fd7c::5]:80')).toThrow(/give \[IPV6\]:HOST:CONTAINER/);
    expect(() => parsePublish('[fd7c::zz]:8080:80')).toThrow(/is not an IPv6 address/);
  });
});

describe('/etc/hosts with IPv6', () => {
  it('has a line per address of each container', () => {
    const rec = (names: string[], ips: string[]) =>
      ({
        hosts: { file: '', base: ['127.0.0.1\tlocalhost'], names },
        result: { ips: ips.map((address) => ({ address })) },
      }) as NetworkRecord;
    const text = renderHosts(rec(['h1', 'one'], ['10.89.5.2/24', 'fd7c::2/64']), [rec(['two'], ['10.89.5.3/24', 'fd7c::3/64'])]);
    expect(text).toBe('127.0.0.1\tlocalhost\n10.89.5.2\th1 one\nfd7c::2\th1 one\n10.89.5.3\ttwo\nfd7c::3\ttwo\n');
  });
});
