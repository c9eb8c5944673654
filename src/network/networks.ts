// tcr's networks, docker's way: `bridge` (the default, built in), `host`,
// `none`, and user networks that `tcr network create` keeps in the image
// store (<store>/networks/NAME.json). Each bridge network becomes a CNI
// configuration list: the bridge plugin (a Linux bridge, a veth pair, NAT to
// the outside), host-local addresses, portmap for published ports and the
// firewall plugin (forwarding allowed where the FORWARD policy drops).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { writeFileAtomic } from '../container/state-store.js';
import { randomHex } from '../sys/random.js';
import type { CniConfList } from './cni.js';
import { formatIPv4, parseIPv4, parseSubnet, prefixOfMask, subnetsOverlap, type Subnet } from './ipv4.js';
import {
  contains6,
  formatIPv6,
  formatSubnet6,
  hostRoutes6,
  parseIPv6,
  parseSubnet6,
  pickUla,
  reservedSpace,
  subnets6Overlap,
} from './ipv6.js';

export interface NetworkDef {
  name: string;
  id: string;
  driver: 'bridge';
  /** the Linux bridge device (15 characters at most) */
  bridge: string;
  subnet: string;
  gateway: string;
  created: string;
  /** containers find each other by name and alias: on user networks, not on the default one (as in docker) */
  shareNames: boolean;
  /** --ipv6: the network's IPv6 subnet and the bridge's address in it (a second host-local range) */
  ipv6?: { subnet: string; gateway: string };
  /** --internal: no route out and no NAT, only the network's own containers (and its gateway's DNS) */
  internal?: boolean;
  labels?: Record<string, string>;
}

export const DEFAULT_NETWORK = 'bridge';
/** modes that are no network of tcr's own */
export const SPECIAL = ['host', 'none'];

/** The default network; its addresses are a /24 of 10.89.0.0/16, tcr's range, unlikely to be a LAN's. */
export const DEFAULT_DEF: NetworkDef = {
  name: DEFAULT_NETWORK,
  id: '0'.repeat(64),
  driver: 'bridge',
  bridge: 'tcr0',
  subnet: '10.89.0.0/24',
  gateway: '10.89.0.1',
  created: '1970-01-01T00:00:00.000Z',
  shareNames: false,
};

/** host-local leases: one directory for the host (the bridge and its addresses are the host's), on tmpfs (a reboot ends every lease with its container) */
export const IPAM_DIR = '/run/tcr-net/ipam';

function networksDir(storeRoot: string): string {
  return path.join(storeRoot, 'networks');
}

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,63}$/;

export function validateNetworkName(name: string): void {
  if (!NAME.test(name))
    throw new TcrError(`network name ${JSON.stringify(name)}: use letters, digits, "_", "." and "-", starting with a letter or digit`);
}

export function readNetwork(storeRoot: string, name: string): NetworkDef {
  if (name === DEFAULT_NETWORK) return DEFAULT_DEF;
  validateNetworkName(name);
  try {
    return JSON.parse(fs.readFileSync(path.join(networksDir(storeRoot), `${name}.json`), 'utf8')) as NetworkDef;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new TcrError(`network ${name} not found (tcr network create ${name})`);
    throw new TcrError(`network ${name}: ${path.join(networksDir(storeRoot), `${name}.json`)}: ${(e as Error).message}`);
  }
}

/** Every network tcr knows: the built-in ones, then the store's. */
export function listNetworks(storeRoot: string): NetworkDef[] {
  let names: string[] = [];
  try {
    names = fs
      .readdirSync(networksDir(storeRoot))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort();
  } catch {
    // no user network yet
  }
  return [DEFAULT_DEF, ...names.map((n) => readNetwork(storeRoot, n))];
}

/** The IPv4 routes of the host (/proc/net/route), as subnets: a new network must not overlap one. */
function hostRoutes(): Subnet[] {
  const out: Subnet[] = [];
  for (const line of fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8 || f[1] === '00000000') continue; // the default route overlaps everything
    const le = (h: string) => Buffer.from(h, 'hex').readUInt32LE(0);
    out.push({ base: le(f[1]), prefix: prefixOfMask(le(f[7])) });
  }
  return out;
}

function pickSubnet(taken: Subnet[]): string {
  for (let i = 1; i < 256; i++) {
    const s = parseSubnet(`10.89.${i}.0/24`, '--subnet');
    if (!taken.some((t) => subnetsOverlap(s, t))) return `10.89.${i}.0/24`;
  }
  throw new TcrError('network create: every /24 of 10.89.0.0/16 is taken; give --subnet');
}

export interface CreateOptions {
  subnet?: string;
  gateway?: string;
  /** --ipv6, with its own --subnet and --gateway (network-flags.ts sorts the flags by family) */
  ipv6?: boolean;
  subnet6?: string;
  gateway6?: string;
  internal?: boolean;
  labels?: Record<string, string>;
}

export function createNetwork(storeRoot: string, name: string, o: CreateOptions): NetworkDef {
  validateNetworkName(name);
  if (name === DEFAULT_NETWORK || SPECIAL.includes(name)) throw new TcrError(`network ${name}: a built-in network of that name exists`);
  const existing = listNetworks(storeRoot);
  if (existing.some((n) => n.name === name)) throw new TcrError(`network ${name} already exists`);
  const taken = [...existing.map((n) => parseSubnet(n.subnet, `network ${n.name}`)), ...hostRoutes()];
  const subnet = o.subnet ?? pickSubnet(taken);
  const s = parseSubnet(subnet, '--subnet');
  if (s.prefix > 30) throw new TcrError(`--subnet ${subnet}: too small for a gateway and a container (/30 at most)`);
  const clash = existing.find((n) => subnetsOverlap(s, parseSubnet(n.subnet, n.name)));
  if (clash) throw new TcrError(`--subnet ${subnet}: overlaps network ${clash.name} (${clash.subnet})`);
  if (o.subnet && hostRoutes().some((r) => subnetsOverlap(s, r)))
    throw new TcrError(`--subnet ${subnet}: overlaps a route of this host (ip route)`);
  const gateway = o.gateway ?? formatIPv4(s.base + 1);
  const gw = parseIPv4(gateway, '--gateway');
  if (!subnetsOverlap({ base: gw, prefix: 32 }, s)) throw new TcrError(`--gateway ${gateway}: not in --subnet ${subnet}`);
  if (gw === s.base || gw === s.base + 2 ** (32 - s.prefix) - 1)
    throw new TcrError(`--gateway ${gateway}: the subnet's network or broadcast address`);
  const ipv6 = o.ipv6 ? ipv6Config(existing, o.subnet6, o.gateway6) : undefined;
  const id = randomHex(32);
  const def: NetworkDef = {
    name,
    id,
    driver: 'bridge',
    bridge: `tcr-${id.slice(0, 11)}`,
    subnet: `${formatIPv4(s.base)}/${s.prefix}`,
    gateway,
    created: new Date().toISOString(),
    shareNames: true,
    ...(ipv6 && { ipv6 }),
    ...(o.internal && { internal: true }),
    labels: o.labels ?? {},
  };
  fs.mkdirSync(networksDir(storeRoot), { recursive: true, mode: 0o755 });
  const file = path.join(networksDir(storeRoot), `${name}.json`);
  writeFileAtomic(file, JSON.stringify(def, null, 2) + '\n');
  return def;
}

/** The IPv6 half of a network: the given subnet checked against the others and the host's routes, or a free ULA /64. */
function ipv6Config(
  existing: NetworkDef[],
  subnet6: string | undefined,
  gateway6: string | undefined,
): { subnet: string; gateway: string } {
  const taken = existing.filter((n) => n.ipv6).map((n) => ({ name: n.name, s: parseSubnet6(n.ipv6!.subnet, `network ${n.name}`) }));
  const routes = hostRoutes6();
  const subnet = subnet6 ?? pickUla([...taken.map((t) => t.s), ...routes]);
  const s = parseSubnet6(subnet, '--subnet');
  const reserved = reservedSpace(s);
  if (reserved) throw new TcrError(`--subnet ${subnet}: overlaps ${reserved}`);
  const clash = taken.find((t) => subnets6Overlap(s, t.s));
  if (clash) throw new TcrError(`--subnet ${subnet}: overlaps network ${clash.name} (${formatSubnet6(clash.s)})`);
  if (subnet6 && routes.some((r) => subnets6Overlap(s, r)))
    throw new TcrError(`--subnet ${subnet}: overlaps a route of this host (ip -6 route)`);
  const gw = gateway6 === undefined ? s.base + 1n : parseIPv6(gateway6, '--gateway');
  if (!contains6(s, gw)) throw new TcrError(`--gateway ${gateway6}: not in --subnet ${subnet}`);
  if (gw === s.base) throw new TcrError(`--gateway ${gateway6}: the subnet's own address (the subnet-router anycast address)`);
  return { subnet: formatSubnet6(s), gateway: formatIPv6(gw) };
}

export function removeNetwork(storeRoot: string, name: string): void {
  if (name === DEFAULT_NETWORK || SPECIAL.includes(name)) throw new TcrError(`network ${name}: a built-in network cannot be removed`);
  readNetwork(storeRoot, name); // not found → its own message
  fs.unlinkSync(path.join(networksDir(storeRoot), `${name}.json`));
}

/**
 * Whether the host's FORWARD chain may drop a container's forwarded traffic:
 * a policy other than ACCEPT (docker's hosts set DROP) or a DROP or REJECT
 * rule in it (in ip6tables' too, for a network with IPv6). Only then is the firewall plugin, which adds accept rules for
 * the container's address, worth its ADD and DEL (most of a plugin's
 * cost is its iptables calls; README, "Networking", has the figures).
 */
export async function forwardFiltered(ipv6 = false): Promise<boolean> {
  const { spawnSync } = await import('node:child_process');
  const filters = (cmd: string) => {
    const r = spawnSync(cmd, ['-w', '-S', 'FORWARD'], { encoding: 'utf8' });
    if (r.status !== 0) return true; // unknown: keep the rules
    const lines = r.stdout.split('\n');
    return !lines.includes('-P FORWARD ACCEPT') || lines.some((l) => / -j (DROP|REJECT)\b/.test(l));
  };
  return filters('iptables') || (ipv6 && filters('ip6tables'));
}

/** The CNI configuration list a container is attached with; portmap only when it publishes ports. */
export function conflistFor(def: NetworkDef, o: { publishes: boolean; firewall: boolean }): CniConfList {
  return {
    cniVersion: '1.0.0',
    name: def.name,
    plugins: [
      {
        type: 'bridge',
        bridge: def.bridge,
        isGateway: true,
        // NAT by one rule per bridge (bridge-rules.ts), not the plugin's chain per container
        ipMasq: false,
        tcrMasq: !def.internal,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          // one range set per family: host-local gives an address of each
          ranges: [[{ subnet: def.subnet, gateway: def.gateway }], ...(def.ipv6 ? [[{ ...def.ipv6 }]] : [])],
          routes: def.internal ? [] : [{ dst: '0.0.0.0/0' }, ...(def.ipv6 ? [{ dst: '::/0' }] : [])],
          dataDir: IPAM_DIR,
        },
      },
      ...(o.publishes ? [{ type: 'portmap', capabilities: { portMappings: true }, snat: true }] : []),
      ...(o.firewall ? [{ type: 'firewall' }] : []),
    ],
  };
}
