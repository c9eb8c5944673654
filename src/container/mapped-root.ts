// Root of a user namespace that maps the user's own id to 0 and their
// /etc/subuid and /etc/subgid range to 1..N: the ids an ordinary user's
// image files and containers are owned by. util-linux's unshare makes it
// (bookworm's 2.38 writes the ranges with newuidmap and newgidmap), for the
// unpacking child (src/image/userns-exec.ts) and for removing what only
// those ids may remove (an upper layer's files, a layer's directories).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { TcrError } from '../errors.js';
import { findOnPath } from '../sys/find-on-path.js';
import { subordinateRanges } from './rootless.js';

export interface IdRange {
  start: number;
  count: number;
}

/** The user's first range of /etc/subuid or /etc/subgid (newuidmap grants no more), or none. */
export function firstRange(file: string, name = os.userInfo().username, id = process.geteuid?.() ?? 0): IdRange | undefined {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    // no file: no range
  }
  return subordinateRanges(text, name, id).find((r) => r.count > 0);
}

export interface UserRanges {
  uid: IdRange;
  gid: IdRange;
}

/** The user's ranges, when both files give one. */
export function userRanges(): UserRanges | undefined {
  const name = os.userInfo().username;
  const uid = firstRange('/etc/subuid', name);
  const gid = firstRange('/etc/subgid', name, process.getegid?.() ?? 0);
  return uid && gid ? { uid, gid } : undefined;
}

/** unshare's argv running `command` as root of the user's namespace (only the own id mapped without ranges). */
export function mappedRootArgv(command: string[], ranges: UserRanges | undefined): string[] {
  if (!findOnPath('unshare'))
    throw new TcrError(`as uid ${process.geteuid?.()}, tcr needs unshare (util-linux) on $PATH: install util-linux`);
  const maps = ranges
    ? [`--map-users=${ranges.uid.start},1,${ranges.uid.count}`, `--map-groups=${ranges.gid.start},1,${ranges.gid.count}`]
    : [];
  return ['--user', '--map-user=0', '--map-group=0', ...maps, '--', ...command];
}

/** rm -rf of `p` as root of the user's namespace: what files of the user's subordinate ids hold. */
export function removeAsMappedRoot(p: string): void {
  const r = spawnSync('unshare', mappedRootArgv(['rm', '-rf', '--', p], userRanges()), { encoding: 'utf8' });
  if (r.status !== 0)
    throw new TcrError(`removing ${p} in your user namespace: ${(r.stderr || r.error?.message || `exit status ${r.status}`).trim()}`);
}
