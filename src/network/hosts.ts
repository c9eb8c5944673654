// /etc/hosts of containers on a network, and what aardvark-dns answers on a
// user network (dns.ts), kept up to date by tcr: each attach and detach
// rewrites the hosts file of every container on that network from their
// state records, and the network's DNS entries, so containers on a user
// network find each other by name and alias whichever resolver they use.
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { ContainerLock } from '../container/lock.js';
import type { StateStore } from '../container/state-store.js';
import { aardvarkPath, entryKey, updateDns, type DnsEntry } from './dns.js';
import { address6Of, addressOf, attachmentsOf, bridgeOf, type NetworkRecord } from './record.js';

/** The lines of a hosts file docker writes for every container, before any address of its own. */
export function baseHosts(addHosts: { name: string; ip: string }[]): string[] {
  return [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
    ...addHosts.map((h) => `${h.ip}\t${h.name}`),
  ];
}

/** The hosts file of `self`, with the given peers (other containers of its network). */
export function renderHosts(self: NetworkRecord, peers: NetworkRecord[]): string {
  return renderHostsOf([self], peers);
}

/** A line per address (IPv4, then IPv6 on a network with it), as docker writes them. */
function linesOf(n: NetworkRecord): string[] {
  const names = [...new Set(n.hosts.names)].join(' ');
  return [addressOf(n), address6Of(n)].filter((ip): ip is string => !!ip).map((ip) => `${ip}\t${names}`);
}

/** A container's hosts file: its base lines, its own address on each of its networks, then the peers'. */
function renderHostsOf(own: NetworkRecord[], peers: NetworkRecord[]): string {
  const lines = [...own[0].hosts.base];
  for (const n of [...own, ...peers]) for (const l of linesOf(n)) if (!lines.includes(l)) lines.push(l);
  return lines.join('\n') + '\n';
}

/**
 * Writes in place (truncate and write, never rename): the file is
 * bind-mounted into the container, and a new inode would not be seen there.
 */
export function writeInPlace(file: string, text: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_TRUNC | fs.constants.O_NOFOLLOW);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return; // its container is being removed
    throw e;
  }
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}

interface Member {
  id: string;
  /** every attachment of the container, the first one's hosts file being the container's */
  all: NetworkRecord[];
}

function withNetworks(store: StateStore, except: string | undefined): Member[] {
  const out: Member[] = [];
  for (const id of store.ids()) {
    if (id === except) continue;
    try {
      const all = attachmentsOf(store.read(id).network);
      if (all.length) out.push({ id, all });
    } catch {
      // a create in progress, before its record: it refreshes the network itself
    }
  }
  return out;
}

const on = (m: Member, network: string) => m.all.find((a) => a.network === network);

/** What a member's hosts file lists: its peers on each of its user networks, with their names there. */
function peersOf(m: Member, everyone: Member[]): NetworkRecord[] {
  const peers: NetworkRecord[] = [];
  for (const a of m.all.filter((x) => x.shareNames))
    for (const o of everyone) if (o.id !== m.id && on(o, a.network)) peers.push(on(o, a.network)!);
  return peers;
}

/**
 * After `changed` (an attachment) came or went: rewrites the hosts files of
 * the containers attached to its network in this state root (all but
 * `except`, a container being removed) and, on a user network, what
 * aardvark-dns answers. A lock per network orders concurrent attaches,
 * each of which reads every record after its own is written, so the last
 * writer has seen everyone.
 */
export async function refreshNames(store: StateStore, changed: NetworkRecord, except?: string): Promise<void> {
  const dir = path.join(store.root, '.networks', changed.network);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = ContainerLock.acquire(dir);
  try {
    const everyone = withNetworks(store, except);
    const members = everyone.filter((m) => on(m, changed.network));
    for (const m of members) writeInPlace(m.all[0].hosts.file, renderHostsOf(m.all, peersOf(m, everyone)));
    if (!changed.shareNames || !aardvarkPath()) return;
    const { bridge, gateway, gateway6 } = bridgeOf(changed);
    const entries: DnsEntry[] = [];
    for (const m of members) {
      const a = on(m, changed.network)!;
      const ip = addressOf(a);
      const names = [...new Set(a.hosts.names)];
      if (ip) entries.push({ key: entryKey(a.netns), ipv4: ip, ipv6: address6Of(a), names, dnsServers: m.all[0].dnsServers ?? [] });
    }
    await updateDns(bridge, [gateway, ...(gateway6 ? [gateway6] : [])], entries);
  } finally {
    lock?.release();
  }
}

/** A container on a network that shares no names: its own hosts file, without reading the others' records. */
export function writeOwnHosts(all: NetworkRecord[]): void {
  writeInPlace(all[0].hosts.file, renderHostsOf(all, []));
}

/** Every container's hosts names on a network, for `tcr network inspect`. */
export function membersOf(store: StateStore, network: string): { id: string; address?: string; address6?: string; names: string[] }[] {
  return withNetworks(store, undefined)
    .filter((m) => on(m, network))
    .map((m) => {
      const a = on(m, network)!;
      return { id: m.id, address: addressOf(a), address6: address6Of(a), names: a.hosts.names };
    });
}
