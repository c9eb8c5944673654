// The mounts an image container's root filesystem needs in the host's mount
// namespace, and their undoing. The state record names them before they are
// made (crash safety), so delete finds them whatever happened.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { native } from '../sys/native.js';
import { removeTree } from '../sys/remove-tree.js';
import { parseMountOptions } from '../linux/mounts.js';

export interface OverlayRootfs {
  /** layer directories, top first (overlayfs' lowerdir order) */
  lower: string[];
  upper: string;
  work: string;
  target: string;
  /**
   * For a container removed when it exits (--rm): overlayfs skips every sync
   * of the upper layer (the `volatile` option, as podman uses for --rm), so
   * unmounting does not flush writes that are about to be deleted.
   */
  volatile?: boolean;
  /**
   * Where overlayfs is unavailable: copies the layers (bottom first) into the
   * target instead. The caller, who knows images, gives it; the lifecycle does not.
   */
  copyLayers: (bottomFirst: string[], target: string) => Promise<void>;
}

/** A tmpfs an image container binds from the host (its shareable /dev/shm): made after the overlay, undone with it. */
export interface HostTmpfs {
  target: string;
  /** the spec mount's options: flags (nosuid, ...) and data (mode=, size=) */
  options: string[];
}

export function mountHostTmpfs(t: HostTmpfs): void {
  fs.mkdirSync(t.target, { recursive: true, mode: 0o700 });
  const { flags, data } = parseMountOptions(t.options);
  try {
    native().mount('shm', t.target, 'tmpfs', flags, data.join(','));
  } catch (e) {
    throw new TcrError(`tmpfs on ${t.target}: ${errorMessage(e)}`);
  }
}

export interface HostCleanup {
  unmount: string[];
  remove: string[];
  /**
   * A container without a mount namespace makes its mounts (proc, dev, ...)
   * in the host's, under its rootfs: all of those go with it, except the
   * mounts (by mount id) that were there before its create.
   */
  madeUnder?: { dir: string; keep: number[] };
}

interface MountEntry {
  id: number;
  target: string;
}

/** mountinfo's mount points are octal-escaped (\040 for a space). */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** The mount point of the mount that holds `p` (the longest mount point that is `p` or above it). */
export function mountPointOf(p: string): string {
  const target = path.resolve(p);
  let best = '/';
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (!mp) continue;
    const m = unescapeMountPath(mp);
    if ((target === m || target.startsWith(m === '/' ? '/' : m + '/')) && m.length > best.length) best = m;
  }
  return best;
}

/** The host's mounts at or below `dir`, in mount order. */
export function mountsAt(dir: string): MountEntry[] {
  const base = path.resolve(dir);
  const out: MountEntry[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const target = unescapeMountPath(f[4]);
    if (target === base || target.startsWith(base + '/')) out.push({ id: Number(f[0]), target });
  }
  return out;
}

const MNT_DETACH = 2;

/**
 * An ordinary user's overlay: mounted by the init itself, inside the
 * container's user and mount namespaces (Linux >= 5.11 allows it there), in
 * place of binding the rootfs on itself; it vanishes with the namespace, so
 * nothing is left on the host to unmount, and nothing can leak. `userxattr`:
 * overlayfs then reads the user.overlay.* marks the user's unpack wrote
 * (trusted.* is root's). Returns the mount data; the directories are made here.
 */
export function overlayInNamespace(o: OverlayRootfs): string {
  for (const d of [o.upper, o.work, o.target]) fs.mkdirSync(d, { recursive: true });
  return `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work},userxattr${o.volatile ? ',volatile' : ''}`;
}

/** Mounts the overlay; where overlayfs is unavailable, copies the layers into the target instead. */
export async function mountOverlay(o: OverlayRootfs): Promise<'overlay' | 'copy'> {
  for (const d of [o.upper, o.work, o.target]) fs.mkdirSync(d, { recursive: true });
  const data = `lowerdir=${o.lower.join(':')},upperdir=${o.upper},workdir=${o.work}`;
  try {
    try {
      native().mount('overlay', o.target, 'overlay', 0, o.volatile ? `${data},volatile` : data);
    } catch (e) {
      // kernels before 5.10 do not know `volatile`: an ordinary overlay does the same job
      if (!o.volatile || errnoCode(e) !== 'EINVAL') throw e;
      native().mount('overlay', o.target, 'overlay', 0, data);
    }
    return 'overlay';
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'ENODEV' && code !== 'EINVAL' && code !== 'EOPNOTSUPP')
      throw new TcrError(`overlay root filesystem on ${o.target}: ${errorMessage(e)}`);
    await o.copyLayers([...o.lower].reverse(), o.target);
    return 'copy';
  }
}

export function undoHostMounts(c: HostCleanup): void {
  if (c.madeUnder) {
    const keep = new Set(c.madeUnder.keep);
    // the last made first: a mount on top of another comes later in mountinfo
    for (const m of mountsAt(c.madeUnder.dir).reverse()) if (!keep.has(m.id)) detach(m.target);
  }
  for (const m of c.unmount) detach(m);
  for (const d of c.remove) removeTree(path.resolve(d));
}

function detach(m: string): void {
  try {
    native().umount(m, MNT_DETACH);
  } catch (e) {
    const code = errnoCode(e);
    if (code !== 'EINVAL' && code !== 'ENOENT') throw new TcrError(`umount ${m}: ${errorMessage(e)}`);
  }
}
