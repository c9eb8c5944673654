// What changes when an ordinary user creates a container (runc --rootless):
// the spec must make a user namespace, and its id maps are written by the
// user's own means. A map of just the user's own uid (and gid) the runtime
// writes itself, with setgroups denied as the kernel then requires; wider
// maps go through the setuid helpers newuidmap and newgidmap (Debian's uidmap
// package), which grant the ranges root gave the user in /etc/subuid and
// /etc/subgid. The init waits at the start sync meanwhile, dumpable so that
// the helpers see it as the user's (src/linux/launch-plan.ts).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { TcrError } from '../errors.js';
import { findOnPath } from '../sys/find-on-path.js';
import { idMapText, inUserNamespace } from '../linux/userns.js';
import type { IdMapping, Spec } from '../spec/types.js';

export const isRootless = (): boolean => (process.geteuid?.() ?? 0) !== 0;

export type RootlessMode = 'true' | 'false' | 'auto';
let mode: RootlessMode = 'auto';

/** The global --rootless: runc's, which says whether cgroups are treated as a user's (auto: find out). */
export function setRootlessMode(m: RootlessMode): void {
  mode = m;
}

/**
 * runc's RootlessCgroups: an ordinary user, and root of a user namespace that
 * is not the host's (where rootless podman runs its runtime, a user to the
 * host), get a cgroup only where one is delegated to them (delegation.ts).
 */
export const rootlessCgroups = (): boolean => (mode === 'auto' ? isRootless() || inUserNamespace() : mode === 'true');

const ownUid = () => process.geteuid?.() ?? 0;
const ownGid = () => process.getegid?.() ?? 0;

/** A map the kernel lets the namespace's unprivileged creator write: its own id, once. */
export function onlyOwnId(maps: IdMapping[] | undefined, own: number): boolean {
  return maps?.length === 1 && maps[0].size === 1 && maps[0].hostID === own;
}

/** setgroups(2) is denied in the container when the runtime writes the gid map itself: the process then keeps no extra groups. */
export function setgroupsDenied(spec: Spec): boolean {
  return onlyOwnId(spec.linux?.gidMappings, ownGid());
}

/** What a user's spec must hold, checked before anything is made. */
export function checkRootlessSpec(spec: Spec): void {
  const user = spec.linux?.namespaces?.find((n) => n.type === 'user');
  const uid = ownUid();
  if (!user)
    throw new TcrError(
      `linux.namespaces: uid ${uid} is not root, and a container made by an ordinary user needs a user namespace mapping it to root (tcr spec --rootless writes one)`,
    );
  if (user.path) return; // joined: its maps exist already
  for (const field of ['uidMappings', 'gidMappings'] as const)
    if (!spec.linux?.[field]?.length)
      throw new TcrError(`linux.${field}: a new user namespace needs a mapping (tcr spec --rootless maps uid ${uid} to root)`);
  const groups = spec.process?.user.additionalGids ?? [];
  if (groups.length && setgroupsDenied(spec))
    throw new TcrError(
      `process.user.additionalGids: with only gid ${ownGid()} mapped, setgroups is denied in the container; map a range from /etc/subgid in linux.gidMappings (newgidmap writes it) or drop the groups`,
    );
}

interface IdRange {
  start: number;
  count: number;
}

/** The ranges of /etc/subuid or /etc/subgid for this user (by name or uid), as newuidmap reads them. */
export function subordinateRanges(text: string, name: string, id: number): IdRange[] {
  return text
    .split('\n')
    .map((l) => l.trim().split(':'))
    .filter((f) => f.length === 3 && (f[0] === name || f[0] === String(id)))
    .map(([, start, count]) => ({ start: Number(start), count: Number(count) }));
}

function checkRanges(field: string, file: string, maps: IdMapping[], own: number, name: string): void {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // no file: no ranges
  }
  const ranges = subordinateRanges(text, name, own);
  const inRange = (m: IdMapping) =>
    (m.size === 1 && m.hostID === own) || ranges.some((r) => m.hostID >= r.start && m.hostID + m.size <= r.start + r.count);
  const outside = maps.find((m) => !inRange(m));
  if (!outside) return;
  const have = ranges.length
    ? `${name}'s ranges there are ${ranges.map((r) => `${r.start}-${r.start + r.count - 1}`).join(', ')}`
    : `${name} has none`;
  const opt = file.endsWith('subuid') ? '--add-subuids' : '--add-subgids';
  throw new TcrError(
    `${field}: host ids ${outside.hostID}-${outside.hostID + outside.size - 1} are not in a range of ${name} in ${file} (${have}); as root, give one (usermod ${opt} 100000-165535 ${name}), or map only id ${own} (tcr spec --rootless)`,
  );
}

function runHelper(helper: string, pid: number, maps: IdMapping[], field: string): void {
  const file = findOnPath(helper);
  if (!file)
    throw new TcrError(
      `${field}: mapping more than your own id needs ${helper}, which is not on $PATH (${process.env.PATH ?? ''}); install it (Debian: apt-get install uidmap), or map only your own id (tcr spec --rootless)`,
    );
  const args = [String(pid), ...maps.flatMap((m) => [m.containerID, m.hostID, m.size].map(String))];
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0)
    throw new TcrError(`${field}: ${file} ${args.join(' ')} failed: ${(r.stderr || r.error?.message || `exit status ${r.status}`).trim()}`);
}

/** Writes the new user namespace's maps of `pid`, which waits at the start sync, as an ordinary user can. */
function writeIdMapsAsUser(spec: Spec, pid: number): void {
  const uidMaps = spec.linux!.uidMappings!;
  const gidMaps = spec.linux!.gidMappings!;
  const name = os.userInfo().username;
  if (onlyOwnId(uidMaps, ownUid())) fs.writeFileSync(`/proc/${pid}/uid_map`, idMapText(uidMaps));
  else {
    checkRanges('linux.uidMappings', '/etc/subuid', uidMaps, ownUid(), name);
    runHelper('newuidmap', pid, uidMaps, 'linux.uidMappings');
  }
  if (onlyOwnId(gidMaps, ownGid())) {
    // the kernel takes an unprivileged gid map only once setgroups is denied for good
    fs.writeFileSync(`/proc/${pid}/setgroups`, 'deny');
    fs.writeFileSync(`/proc/${pid}/gid_map`, idMapText(gidMaps));
  } else {
    checkRanges('linux.gidMappings', '/etc/subgid', gidMaps, ownGid(), name);
    runHelper('newgidmap', pid, gidMaps, 'linux.gidMappings');
  }
}

/** The new user namespace's maps, while the init waits at its start sync: root writes them itself, a user through writeIdMapsAsUser. */
export function writeIdMaps(spec: Spec, pid: number): void {
  const user = spec.linux?.namespaces?.find((n) => n.type === 'user');
  if (!user || user.path) return;
  if (isRootless()) return writeIdMapsAsUser(spec, pid);
  fs.writeFileSync(`/proc/${pid}/uid_map`, idMapText(spec.linux!.uidMappings!));
  fs.writeFileSync(`/proc/${pid}/gid_map`, idMapText(spec.linux!.gidMappings!));
}
