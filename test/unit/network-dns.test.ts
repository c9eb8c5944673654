// The parts of DNS and network listing that need no root: aardvark-dns's
// configuration file, network ls filters and create's labels.
import { describe, expect, it } from 'vitest';
import { renderDnsConfig } from '../../src/network/dns.js';
import { filterRows, parseFilters, parseLabels, rowsOf } from '../../src/network/network-list.js';
import { DEFAULT_DEF, type NetworkDef } from '../../src/network/networks.js';

describe("aardvark-dns's configuration", () => {
  it('lists the gateway, then key, IPv4, an empty IPv6, names and --dns servers per container', () => {
    const text = renderDnsConfig(
      ['10.89.5.1'],
      [
        { key: 'k1', ipv4: '10.89.5.2', names: ['web', 'api.internal', 'Web'], dnsServers: [] },
        { key: 'k2', ipv4: '10.89.5.3', names: ['db', 'bad name', 'x,y'], dnsServers: ['192.0.2.53'] },
        { key: 'k3', ipv4: '10.89.5.4', names: ['has space'], dnsServers: [] },
      ],
    );
    // names aardvark would split wrongly are left out, and a container with none left has no line
    expect(text).toBe('10.89.5.1\nk1 10.89.5.2  web,api.internal \nk2 10.89.5.3  db 192.0.2.53\n');
  });
});

describe("aardvark-dns's configuration with IPv6", () => {
  it('listens on both gateways and answers AAAA with the IPv6 address', () => {
    const text = renderDnsConfig(
      ['10.89.5.1', 'fd7c:1c::1'],
      [{ key: 'k1', ipv4: '10.89.5.2', ipv6: 'fd7c:1c::2', names: ['web'], dnsServers: [] }],
    );
    expect(text).toBe('10.89.5.1,fd7c:1c::1\nk1 10.89.5.2 fd7c:1c::2 web \n');
  });
});

describe('network ls --filter', () => {
  const user = (name: string, labels: Record<string, string>): NetworkDef => ({
    ...DEFAULT_DEF,
    name,
    id: `${name.padEnd(12, 'f')}${'0'.repeat(52)}`,
    bridge: `tcr-${name}`,
    shareNames: true,
    labels,
  });
  const rows = rowsOf([DEFAULT_DEF, user('abc', { env: 'prod' }), user('abd', { env: 'dev', x: '' })]);
  const names = (f: string[]) => filterRows(rows, parseFilters(f)).map((r) => r.Name);

  it('ORs values of one key and ANDs keys, as docker', () => {
    expect(names(['name=ab'])).toEqual(['abc', 'abd']);
    expect(names(['name=abc', 'name=abd'])).toEqual(['abc', 'abd']);
    expect(names(['name=ab', 'label=env=dev'])).toEqual(['abd']);
    expect(names(['label=x'])).toEqual(['abd']);
    expect(names(['type=builtin'])).toEqual(['bridge', 'host', 'none']);
    expect(names(['type=custom', 'driver=bridge'])).toEqual(['abc', 'abd']);
    expect(names(['id=abcfff'])).toEqual(['abc']);
  });

  it('names the flag for what it cannot read', () => {
    expect(() => parseFilters(['nope'])).toThrow(/--filter "nope": give KEY=VALUE/);
    expect(() => parseFilters(['type=other'])).toThrow(/--filter type=other: type is builtin or custom/);
    expect(parseLabels(['a=b', 'c'])).toEqual({ a: 'b', c: '' });
    expect(() => parseLabels(['=b'])).toThrow(/--label "=b"/);
  });
});
