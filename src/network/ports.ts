// -p [IP:][HOST:]CTR[/tcp|udp] and -P (every port the image EXPOSEs, on a
// free host port), read into the mappings the CNI portmap plugin takes. An
// IPv6 host address is bracketed, as docker has it: -p [::1]:8080:80.
import { TcrError } from '../errors.js';
import { parseIPv4, formatIPv4 } from './ipv4.js';
import { formatIPv6, parseIPv6 } from './ipv6.js';
import type { PortMapping } from './record.js';

function port(s: string, flag: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < 1 || n > 65535) throw new TcrError(`${flag}: ${JSON.stringify(s)} is not a port (1-65535)`);
  return n;
}

/** "8000-8002" → [8000, 8001, 8002]; "80" → [80]. */
function portRange(s: string, flag: string): number[] {
  const [a, b] = s.split('-');
  const lo = port(a, flag);
  const hi = b === undefined ? lo : port(b, flag);
  if (hi < lo) throw new TcrError(`${flag}: range ${s} ends before it starts`);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

/** The host address of a -p value (bracketed if IPv6) and the ports after it, HOST:CONTAINER or CONTAINER. */
function splitHostIP(body: string, flag: string): { ip?: string; parts: string[] } {
  if (body.startsWith('[')) {
    const close = body.indexOf(']:');
    if (close < 0) throw new TcrError(`${flag}: give [IPV6]:HOST:CONTAINER, the address in brackets`);
    const parts = body.slice(close + 2).split(':');
    if (parts.length !== 2) throw new TcrError(`${flag}: give [IPV6]:HOST:CONTAINER (HOST may be empty)`);
    return { ip: body.slice(1, close), parts };
  }
  const parts = body.split(':');
  return parts.length === 3 ? { ip: parts[0], parts: parts.slice(1) } : { parts };
}

/** One -p value; a host port of 0 means "any free one" (chosen later, by freePort). */
export function parsePublish(v: string): PortMapping[] {
  const flag = `-p ${v}`;
  const slash = v.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : v.slice(slash + 1);
  if (proto !== 'tcp' && proto !== 'udp') throw new TcrError(`${flag}: protocol ${JSON.stringify(proto)} is not tcp or udp`);
  const body = slash < 0 ? v : v.slice(0, slash);
  const { ip, parts } = splitHostIP(body, flag);
  if (parts.length > 2 || parts.some((p, i) => p === '' && !(ip !== undefined && i === 0)))
    throw new TcrError(`${flag}: give [IP:][HOST:]CONTAINER[/udp]`);
  const ctr = portRange(parts[parts.length - 1], flag);
  const hostPart = parts.length === 2 ? parts[0] : '';
  const hostIP = ip === undefined ? undefined : ip.includes(':') ? formatIPv6(parseIPv6(ip, flag)) : formatIPv4(parseIPv4(ip, flag));
  // the reply to ::1 would come in by the bridge, and the kernel routes the loopback address only on lo
  // (IPv6 has no route_localnet): docker reaches it with its userland proxy, portmap cannot
  if (hostIP === '::1')
    throw new TcrError(
      `${flag}: the host's ::1 cannot be forwarded to a container (IPv6 has no route_localnet); publish on 127.0.0.1 or [::]`,
    );
  const host = hostPart ? portRange(hostPart, flag) : ctr.map(() => 0);
  if (host.length !== ctr.length) throw new TcrError(`${flag}: the host range and the container range differ in length`);
  return ctr.map((c, i) => ({
    hostPort: host[i],
    containerPort: c,
    protocol: proto,
    ...(hostIP && hostIP !== '0.0.0.0' && hostIP !== '::' ? { hostIP } : {}),
  }));
}

/** -P: the image's ExposedPorts ("80/tcp", "53/udp", "8080"), each on a free host port. */
export function exposedPorts(exposed: Record<string, object> | undefined): PortMapping[] {
  return Object.keys(exposed ?? {}).flatMap((k) => parsePublish(k).map((m) => ({ ...m, hostPort: 0 })));
}

/** A port nothing listens on now, from the kernel's ephemeral range (as docker picks one for -P). */
async function freePort(protocol: 'tcp' | 'udp', hostIP: string | undefined): Promise<number> {
  if (protocol === 'udp') {
    const dgram = await import('node:dgram');
    const s = dgram.createSocket(hostIP?.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => s.once('error', reject).bind(0, hostIP ?? '0.0.0.0', () => resolve()));
    const p = s.address().port;
    s.close();
    return p;
  }
  const net = await import('node:net');
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(0, hostIP ?? '0.0.0.0', () => resolve()));
  const p = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return p;
}

/** The mappings with every host port 0 replaced by a free one; the same container port twice is refused. */
export async function resolvePorts(maps: PortMapping[]): Promise<PortMapping[]> {
  const seen = new Set<string>();
  const out: PortMapping[] = [];
  for (const m of maps) {
    const key = `${m.hostIP ?? ''}:${m.hostPort}/${m.protocol}`;
    if (m.hostPort && seen.has(key)) throw new TcrError(`-p: host port ${m.hostPort}/${m.protocol} is published twice`);
    seen.add(key);
    out.push(m.hostPort ? m : { ...m, hostPort: await freePort(m.protocol, m.hostIP) });
  }
  return out;
}
