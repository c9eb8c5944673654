// /etc/hosts of containers on a network, kept up to date by tcr instead of a
// DNS server: each attach and detach rewrites the hosts file of every
// container on that network from their state records, so containers on a
// user network find each other by name and alias with no process left
// running (README, "Networking", says why this over aardvark-dns).
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { ContainerLock } from '../container/lock.js';
import type { StateStore } from '../container/state-store.js';
import { addressOf, type NetworkRecord } from './record.js';

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
  const lines = [...self.hosts.base];
  const own = addressOf(self);
  if (own) lines.push(`${own}\t${[...new Set(self.hosts.names)].join(' ')}`);
  for (const p of peers) {
    const ip = addressOf(p);
    if (ip) lines.push(`${ip}\t${[...new Set(p.hosts.names)].join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Writes in place (truncate and write, never rename): the file is
 * bind-mounted into the container, and a new inode would not be seen there.
 */
function writeInPlace(file: string, text: string): void {
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

function attachedTo(store: StateStore, network: string, except: string | undefined): { id: string; n: NetworkRecord }[] {
  const out: { id: string; n: NetworkRecord }[] = [];
  for (const id of store.ids()) {
    if (id === except) continue;
    try {
      const n = store.read(id).network;
      if (n && n.network === network) out.push({ id, n });
    } catch {
      // a create in progress, before its record: it refreshes the network itself
    }
  }
  return out;
}

/**
 * Rewrites the hosts files of the containers attached to `network` in this
 * state root (all but `except`, a container being removed). A lock per
 * network orders concurrent attaches, each of which reads every record
 * after its own is written, so the last writer has seen everyone.
 */
export function refreshHosts(store: StateStore, network: string, except?: string): void {
  const dir = path.join(store.root, '.networks', network);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const lock = ContainerLock.acquire(dir);
  try {
    const members = attachedTo(store, network, except);
    for (const m of members) {
      const peers = m.n.shareNames ? members.filter((o) => o.id !== m.id).map((o) => o.n) : [];
      writeInPlace(m.n.hosts.file, renderHosts(m.n, peers));
    }
  } finally {
    lock?.release();
  }
}

/** Every container's hosts names on a network, for `tcr network inspect`. */
export function membersOf(store: StateStore, network: string): { id: string; address?: string; names: string[] }[] {
  return attachedTo(store, network, undefined).map(({ id, n }) => ({ id, address: addressOf(n), names: n.hosts.names }));
}
