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
import { refreshNames, writeOwnHosts } from './hosts.js';
import { ensureIsolation } from './bridge-rules.js';
import { prepareBridge6 } from './bridge-device.js';
import { attachmentsOf, bridgeOf, type NetworkRecord } from './record.js';
import { pointResolver } from './resolver.js';

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

/** ADD of one attachment in the pinned namespace, each plugin's result recorded (through `save`) before the next runs. */
async function add(n: NetworkRecord, save: () => void): Promise<void> {
  try {
    const { bridge, gateway6 } = bridgeOf(n);
    if (gateway6) await prepareBridge6(bridge);
    await withPluginLock(n, (fd) =>
      cniAdd(n.conflist, invocation(n, n.netns, fd), (r) => {
        n.result = r;
        save();
      }),
    );
    await ensureIsolation(n);
  } catch (e) {
    throw new TcrError(`--network ${n.network}: ${(e as Error).message}`, undefined, { cause: e });
  }
}

/** What the others know of it, and what it knows of them, after an attachment came or went. */
async function refreshAfter(store: StateStore, all: NetworkRecord[], changed: NetworkRecord, except?: string): Promise<void> {
  if (changed.shareNames) await refreshNames(store, changed, except);
  else if (all.length && !except) writeOwnHosts(all);
}

/** Called once `rec` (with rec.network) is written and the init, in its new network namespace, waits at the start sync. */
export async function attachNetwork(store: StateStore, rec: ContainerRecord, pid: number): Promise<void> {
  const n = rec.network!;
  fs.writeFileSync(n.netns, '', { mode: 0o400 });
  native().mount(`/proc/${pid}/ns/net`, n.netns, null, MS_BIND, null);
  await add(n, () => store.write(rec));
  await refreshAfter(store, [n], n);
}

function pinned(file: string): boolean {
  return mountsAt(file).length > 0;
}

/**
 * `tcr network connect`: a further interface (eth1, ...) in a running
 * container's pinned namespace. The attachment is recorded before its ADD,
 * so a crash in the middle is undone by rm as the first one is.
 */
export async function connectNetwork(store: StateStore, rec: ContainerRecord, n: NetworkRecord): Promise<void> {
  const first = rec.network!;
  (first.connected ??= []).push(n);
  store.write(rec);
  try {
    await add(n, () => store.write(rec));
  } catch (e) {
    await disconnectNetwork(store, rec, n.network).catch(() => undefined); // a DEL that fails keeps it recorded for rm
    throw e;
  }
  await refreshAfter(store, attachmentsOf(first), n);
  pointResolver(attachmentsOf(first));
}

/**
 * `tcr network disconnect`: DEL of one attachment, then the record without
 * it (the first one's place goes to the next). The last one is refused:
 * the namespace pin and the container's record of it hang on it.
 */
export async function disconnectNetwork(store: StateStore, rec: ContainerRecord, network: string): Promise<void> {
  const all = attachmentsOf(rec.network);
  const n = all.find((a) => a.network === network);
  if (!n) throw new TcrError(`container ${rec.id} is not connected to network ${network}`);
  if (all.length === 1) throw new TcrError(`network disconnect ${network} ${rec.id}: its only network (tcr stop or rm it instead)`);
  await withPluginLock(n, (fd) => cniDel(n.conflist, invocation(n, n.netns, fd), n.result));
  const rest = all.filter((a) => a !== n).map((a) => ({ ...a, connected: undefined }));
  rec.network = { ...rest[0], connected: rest.slice(1) };
  store.write(rec);
  if (n.shareNames) await refreshNames(store, n); // the others forget it
  const named = rest.find((a) => a.shareNames);
  if (named) await refreshNames(store, named);
  else writeOwnHosts(rest);
  pointResolver(rest);
}

/**
 * Undoes what attachNetwork and connectNetwork made, whatever point they
 * reached: DEL through the plugins for each attachment, last first (with
 * the namespace, if it was pinned; without it nothing but a lease can
 * exist), then the pin. The other containers then lose this one's names.
 */
export async function detachNetwork(store: StateStore, rec: ContainerRecord): Promise<void> {
  let all: NetworkRecord[] = [];
  await withPluginLock(rec.network!, async (fd) => {
    // read again under the lock: a create still running may have recorded a result since,
    // or a stop released the network already
    const n = store.exists(rec.id) ? store.read(rec.id).network : rec.network;
    if (!n) return;
    all = attachmentsOf(n);
    const isPinned = pinned(n.netns);
    let first: Error | undefined;
    for (const a of [...all].reverse()) {
      try {
        await cniDel(a.conflist, invocation(a, isPinned ? a.netns : '', fd), a.result);
      } catch (e) {
        first ??= e instanceof Error ? e : new Error(String(e));
      }
    }
    if (first) throw first;
    if (isPinned) native().umount(n.netns, MNT_DETACH);
    try {
      fs.unlinkSync(n.netns);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
    }
  });
  for (const a of all) if (a.shareNames) await refreshNames(store, a, rec.id);
}
