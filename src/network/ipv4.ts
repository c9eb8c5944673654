// IPv4 addresses and subnets as numbers, for checking a network's subnet,
// gateway and --add-host addresses without a library.
import { TcrError } from '../errors.js';

export interface Subnet {
  /** the network address, as an unsigned 32-bit number */
  base: number;
  prefix: number;
}

/** `what` names the flag or field the address came from, for the error. */
export function parseIPv4(s: string, what: string): number {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  const parts = m ? m.slice(1).map(Number) : [];
  if (!m || parts.some((p) => p > 255)) throw new TcrError(`${what}: ${JSON.stringify(s)} is not an IPv4 address`);
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (~0 << (32 - prefix)) >>> 0;
}

export function parseSubnet(s: string, what: string): Subnet {
  const [addr, len, extra] = s.split('/');
  const prefix = Number(len);
  if (extra !== undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 32 || len === '')
    throw new TcrError(`${what}: ${JSON.stringify(s)} is not a subnet (A.B.C.D/N, N from 8 to 32)`);
  return { base: (parseIPv4(addr, what) & maskOf(prefix)) >>> 0, prefix };
}

export function subnetsOverlap(a: Subnet, b: Subnet): boolean {
  const m = maskOf(Math.min(a.prefix, b.prefix));
  return (a.base & m) >>> 0 === (b.base & m) >>> 0;
}

/** A netmask read from the kernel (/proc/net/route) as a prefix length. */
export function prefixOfMask(mask: number): number {
  let n = 0;
  for (let m = mask >>> 0; m; m = (m << 1) >>> 0) n++;
  return n;
}
