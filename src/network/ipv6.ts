// IPv6 addresses and subnets as 128-bit numbers (bigint), for a network's
// IPv6 subnet and gateway (`tcr network create --ipv6`), the host's IPv6
// routes it must not overlap, and -p [::1]:PORT:CTR.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { TcrError } from '../errors.js';

export interface Subnet6 {
  base: bigint;
  prefix: number;
}

const ALL = (1n << 128n) - 1n;

function groupsOf(part: string): number[] | undefined {
  if (part === '') return [];
  const out: number[] = [];
  for (const g of part.split(':')) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** `what` names the flag or field the address came from, for the error. No zone (%eth0) and no dotted IPv4 tail. */
export function parseIPv6(s: string, what: string): bigint {
  const bad = () => new TcrError(`${what}: ${JSON.stringify(s)} is not an IPv6 address`);
  const halves = s.split('::');
  if (halves.length > 2) throw bad();
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (!head || !tail) throw bad();
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) throw bad();
  const groups = [...head, ...Array<number>(missing).fill(0), ...tail];
  return groups.reduce((n, g) => (n << 16n) | BigInt(g), 0n);
}

export function isIPv6(s: string): boolean {
  return s.includes(':');
}

/** The canonical text form (RFC 5952): lowercase, the longest run of two or more zero groups as `::`. */
export function formatIPv6(n: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { at: -1, len: 1 };
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len) best = { at: i, len: j - i };
    i = j === i ? i + 1 : j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

function maskOf(prefix: number): bigint {
  return prefix === 0 ? 0n : (ALL << BigInt(128 - prefix)) & ALL;
}

/** A subnet with room for a gateway and containers: a prefix from 8 to 120. */
export function parseSubnet6(s: string, what: string): Subnet6 {
  const [addr, len, extra] = s.split('/');
  const prefix = Number(len);
  if (extra !== undefined || len === undefined || len === '' || !Number.isInteger(prefix) || prefix < 8 || prefix > 120)
    throw new TcrError(`${what}: ${JSON.stringify(s)} is not an IPv6 subnet (ADDR/N, N from 8 to 120)`);
  return { base: parseIPv6(addr, what) & maskOf(prefix), prefix };
}

export function formatSubnet6(s: Subnet6): string {
  return `${formatIPv6(s.base)}/${s.prefix}`;
}

export function subnets6Overlap(a: Subnet6, b: Subnet6): boolean {
  const m = maskOf(Math.min(a.prefix, b.prefix));
  return (a.base & m) === (b.base & m);
}

export function contains6(s: Subnet6, addr: bigint): boolean {
  return subnets6Overlap(s, { base: addr, prefix: 128 });
}

/** Multicast, link-local and loopback space: no network's subnet. */
export function reservedSpace(s: Subnet6): string | undefined {
  const reserved: [string, Subnet6][] = [
    ['multicast (ff00::/8)', { base: 0xffn << 120n, prefix: 8 }],
    ['link-local (fe80::/10)', { base: 0xfe80n << 112n, prefix: 10 }],
    ['the loopback or unspecified address (::/127)', { base: 0n, prefix: 127 }],
  ];
  return reserved.find(([, r]) => subnets6Overlap(s, r))?.[0];
}

/** The host's IPv6 routes (/proc/net/ipv6_route) but the default and link-local ones: a new network must not overlap one. */
export function hostRoutes6(): Subnet6[] {
  let text = '';
  try {
    text = fs.readFileSync('/proc/net/ipv6_route', 'utf8');
  } catch {
    return []; // no IPv6 in this kernel
  }
  const out: Subnet6[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const prefix = parseInt(f[1], 16);
    const base = BigInt(`0x${f[0]}`);
    const s = { base, prefix };
    if (prefix === 0 || reservedSpace(s)) continue;
    out.push(s);
  }
  return out;
}

/** A random /64 of the unique local range fd00::/8 (RFC 4193's 40-bit global id and a subnet id), as podman picks one. */
export function pickUla(taken: Subnet6[]): string {
  for (let i = 0; i < 64; i++) {
    const bytes = crypto.randomBytes(7);
    const base = (0xfdn << 120n) | (BigInt(`0x${bytes.toString('hex')}`) << 64n);
    const s = { base, prefix: 64 };
    if (!taken.some((t) => subnets6Overlap(s, t))) return formatSubnet6(s);
  }
  throw new TcrError('network create --ipv6: no free /64 of fd00::/8 found; give an IPv6 --subnet');
}
