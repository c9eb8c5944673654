// Attaching an image container to its network at the init's start sync, and
// detaching it at delete. The order makes every moment recoverable: the
// record names the namespace pin, the CNI configuration and the container's
// CNI id before anything exists; the pin keeps the namespace (with the
// interface the NAT rules are keyed by) after the container's processes end;
// each plugin's result is recorded before the next plugin runs. DEL, tried
// again until it succeeds, is idempotent.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { mountsAt } from '../container/host-mounts.js';
import type { ContainerRecord, StateStore } from '../container/state-store.js';
import { native } from '../sys/native.js';
import { cniAdd, cniDel, type CniInvocation } from './cni.js';
import { refreshHosts, renderHosts } from './hosts.js';
import type { NetworkRecord } from './record.js';

const MS_BIND = 0x1000;
const MNT_DETACH = 2;

function invocation(n: NetworkRecord, netns: string, holdFd: number): CniInvocation {
  return { containerId: n.cniId, netns, ifname: n.ifname, runtimeConfig: { portMappings: n.portMappings }, holdFd };
}

/**
 * Runs `fn` holding the attachment's flock (network.lock beside the pin, in
 * the container's state directory). Each plugin inherits it, so a DEL after
 * tcr was killed mid-ADD first waits for the plugins still at work.
 */
async function withPluginLock<T>(n: NetworkRecord, fn: (fd: number) => Promise<T>): Promise<T> {
  const fd = fs.openSync(path.join(path.dirname(n.netns), 'network.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    native().flock(fd, true);
    return await fn(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Called once `rec` (with rec.network) is written and the init, in its new network namespace, waits at the start sync. */
export async function attachNetwork(store: StateStore, rec: ContainerRecord, pid: number): Promise<void> {
  const n = rec.network!;
  fs.writeFileSync(n.netns, '', { mode: 0o400 });
  native().mount(`/proc/${pid}/ns/net`, n.netns, null, MS_BIND, null);
  try {
    await withPluginLock(n, (fd) =>
      cniAdd(n.conflist, invocation(n, n.netns, fd), (r) => {
        n.result = r;
        store.write(rec);
      }),
    );
  } catch (e) {
    throw new TcrError(`--network ${n.network}: ${(e as Error).message}`, undefined, { cause: e });
  }
  if (n.shareNames) refreshHosts(store, n.network);
  else fs.writeFileSync(n.hosts.file, renderHosts(n, []));
}

function pinned(file: string): boolean {
  return mountsAt(file).length > 0;
}

/**
 * Undoes what attachNetwork made, whatever point it reached: DEL through the
 * plugins (with the namespace, if it was pinned; without it nothing but a
 * lease can exist), then the pin. The other containers' hosts files then
 * lose this one's names.
 */
export async function detachNetwork(store: StateStore, rec: ContainerRecord): Promise<void> {
  await withPluginLock(rec.network!, async (fd) => {
    // read again under the lock: a create still running may have recorded a result since,
    // or a stop released the network already
    const n = store.exists(rec.id) ? store.read(rec.id).network : rec.network;
    if (!n) return;
    const isPinned = pinned(n.netns);
    await cniDel(n.conflist, invocation(n, isPinned ? n.netns : '', fd), n.result);
    if (isPinned) native().umount(n.netns, MNT_DETACH);
    try {
      fs.unlinkSync(n.netns);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  });
  if (rec.network!.shareNames) refreshHosts(store, rec.network!.network, rec.id);
}
