// How an ordinary user unpacks an image's layers: files owned by many ids,
// set-id bits, whiteouts. Only root of a user namespace that maps those ids
// may chown to them, so the whole pull (or load) runs again as a child, root
// in a user namespace mapping 0 to the user and 1..N to their range of
// /etc/subuid and /etc/subgid, as rootless podman's storage does. The child
// is util-linux's `unshare --map-user=0 --map-users=...` (src/container/
// mapped-root.ts): no new code in the executor,
// nothing left behind (the namespace dies with the child), and the unpacker
// runs unchanged as "root" with its hostile-layer protections (openat2
// RESOLVE_IN_ROOT, O_NOFOLLOW) as they are; writing outside the layer root is
// refused the same way, and the namespace adds no right on any host file the
// user does not own. Without a range only the user's own id is mapped: files
// of other owners are stored as the user's, with a warning (podman's
// ignore_chown_errors).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { tcrLoader } from '../sys/package-root.js';
import { mappedRootArgv, userRanges, type UserRanges } from '../container/mapped-root.js';
import { findOnPath } from '../sys/find-on-path.js';
import { IGNORE_CHOWN_ENV } from './chown-keep.js';

/** Set in the child: it is root of a user namespace, unpacking into the user's store. */
export const USERNS_ENV = 'TCR_USERNS_UNPACK';
export { IGNORE_CHOWN_ENV };

/** The user's ranges, or undefined (with the warning that files of other owners become the user's). */
export function rangesOrWarn(): UserRanges | undefined {
  const ranges = userRanges();
  const name = os.userInfo().username;
  if (ranges) {
    for (const helper of ['newuidmap', 'newgidmap'])
      if (!findOnPath(helper))
        throw new TcrError(
          `${name} has ranges in /etc/subuid and /etc/subgid, but ${helper} is not on $PATH (${process.env.PATH ?? ''}): install it (Debian: apt-get install uidmap)`,
        );
    return ranges;
  }
  log.warn(
    `${name} has no range in /etc/subuid and /etc/subgid: only uid ${process.geteuid?.()} is mapped, so files of other owners in the image are stored as ${name}'s and appear owned by root in the container (as podman's ignore_chown_errors). As root, give a range: usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${name}`,
  );
  return undefined;
}

/**
 * Runs tcr with `args` as root of a user namespace holding the user's ids,
 * with the store given (the child is uid 0, and would pick root's); its
 * stdio is ours (its stdout our stderr for a run's pull, as docker's
 * progress goes there). Returns its exit status.
 */
export function runAsMappedRoot(args: string[], storeRoot: string, o: { stdoutToStderr?: boolean } = {}): number {
  try {
    fs.mkdirSync(storeRoot, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new TcrError(
      `cannot make the image store ${storeRoot} (${errnoCode(e) ?? errorMessage(e)}): as uid ${process.geteuid?.()}, images live in $XDG_DATA_HOME/tcr, else $HOME/.local/share/tcr; set XDG_DATA_HOME or HOME to a directory of yours, or give --store DIR`,
    );
  }
  const ranges = rangesOrWarn();
  const env = { ...process.env, TCR_STORE: path.resolve(storeRoot), [USERNS_ENV]: '1', ...(!ranges && { [IGNORE_CHOWN_ENV]: '1' }) };
  const r = spawnSync('unshare', mappedRootArgv([process.execPath, tcrLoader(), ...args], ranges), {
    stdio: o.stdoutToStderr ? ['inherit', 2, 'inherit'] : 'inherit',
    env,
  });
  if (r.error) throw new TcrError(`unshare: ${r.error.message}`);
  if (r.signal) process.kill(process.pid, r.signal);
  return r.status ?? 1;
}

/** Whether this process is the child above. */
export const inUserNamespaceChild = (): boolean => process.env[USERNS_ENV] === '1';
