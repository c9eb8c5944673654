// -p [IP:][HOST:]CTR[/tcp|udp] and -P (every port the image EXPOSEs, on a
// free host port), read into the mappings the CNI portmap plugin takes.
import { TcrError } from '../errors.js';
import { parseIPv4, formatIPv4 } from './ipv4.js';
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

/** One -p value; a host port of 0 means "any free one" (chosen later, by freePort). */
export function parsePublish(v: string): PortMapping[] {
  const flag = `-p ${v}`;
  const slash = v.lastIndexOf('/');
  const proto = slash < 0 ? 'tcp' : v.slice(slash + 1);
  if (proto !== 'tcp' && proto !== 'udp') throw new TcrError(`${flag}: protocol ${JSON.stringify(proto)} is not tcp or udp`);
  const parts = (slash < 0 ? v : v.slice(0, slash)).split(':');
  if (parts.length > 3 || parts.some((p, i) => p === '' && !(parts.length === 3 && i === 1)))
    throw new TcrError(`${flag}: give [IP:][HOST:]CONTAINER[/udp]`);
  const ctr = portRange(parts[parts.length - 1], flag);
  const hostPart = parts.length >= 2 ? parts[parts.length - 2] : '';
  const hostIP = parts.length === 3 ? formatIPv4(parseIPv4(parts[0], flag)) : undefined;
  const host = hostPart ? portRange(hostPart, flag) : ctr.map(() => 0);
  if (host.length !== ctr.length) throw new TcrError(`${flag}: the host range and the container range differ in length`);
  return ctr.map((c, i) => ({
    hostPort: host[i],
    containerPort: c,
    protocol: proto,
    ...(hostIP && hostIP !== '0.0.0.0' ? { hostIP } : {}),
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
    const s = dgram.createSocket('udp4');
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
