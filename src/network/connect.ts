// `tcr network connect|disconnect NET CONTAINER`: a running container joins
// another network (a further interface, eth1 and on, through the same CNI
// chain in its pinned namespace) or leaves one, with its /etc/hosts, its
// resolver and the others' names brought up to date (attach.ts).
import path from 'node:path';
import { TcrError } from '../errors.js';
import { ContainerLock } from '../container/lock.js';
import type { StateStore } from '../container/state-store.js';
import { deriveStatus } from '../container/status.js';
import { connectNetwork, disconnectNetwork } from './attach.js';
import { readNetwork } from './networks.js';
import { attachmentRecord } from './prepare.js';
import { attachmentsOf } from './record.js';

async function locked<T>(state: StateStore, id: string, fn: () => Promise<T>): Promise<T> {
  const lock = state.exists(id) ? ContainerLock.acquire(state.dir(id)) : null;
  if (!lock) throw new TcrError(`no such container: ${id}`);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

export async function connectContainer(
  state: StateStore,
  storeRoot: string,
  network: string,
  id: string,
  aliases: string[],
): Promise<void> {
  const def = readNetwork(storeRoot, network);
  if (aliases.length && !def.shareNames)
    throw new TcrError(`--alias: names are shared only on a user network; ${def.name} is the default one`);
  await locked(state, id, async () => {
    const rec = state.read(id);
    if (deriveStatus(rec, state) !== 'running') throw new TcrError(`container ${id} is not running`);
    const first = rec.network;
    if (!first) {
      const mode = (JSON.parse(rec.config.annotations?.['dev.tcr.run'] ?? '{}') as { network?: string }).network ?? 'none';
      throw new TcrError(`container ${id} has no bridge network of its own (--network ${mode}): only those join further networks`);
    }
    const all = attachmentsOf(first);
    if (all.some((a) => a.network === def.name)) throw new TcrError(`container ${id} is already connected to network ${def.name}`);
    const used = new Set(all.map((a) => a.ifname));
    let i = 1;
    while (used.has(`eth${i}`)) i++;
    const n = await attachmentRecord(
      def,
      { id, hostname: rec.config.hostname ?? id, dir: path.dirname(first.hosts.file), state },
      { ifname: `eth${i}`, portMappings: [], aliases, base: first.hosts.base },
    );
    await connectNetwork(state, rec, n);
  });
}

export async function disconnectContainer(state: StateStore, network: string, id: string): Promise<void> {
  await locked(state, id, async () => {
    const rec = state.read(id);
    if (!attachmentsOf(rec.network).some((a) => a.network === network))
      throw new TcrError(`container ${id} is not connected to network ${network}`);
    await disconnectNetwork(state, rec, network);
  });
}
