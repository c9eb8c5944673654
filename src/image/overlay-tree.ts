// Reading layers in overlayfs form: what a whiteout and an opaque directory
// look like, the merged view of a stack of layer directories (what a name
// resolves to in the rootfs they make), and copying one node with all its
// metadata. Shared by the unpacker (hard links to a lower layer's file,
// implicit parent directories) and the flattener. Paths given to and
// returned by these functions are in byte-names.ts's form; each file-system
// call gets fsPath() of them, so names that are not UTF-8 stay exact.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { chownOrKeep } from './chown-keep.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, lgetxattr, lgetxattrs, lsetxattr, lutimens, mknod, splitDev } from '../sys/fsops.js';
import { timespecFromNs } from '../sys/time.js';
import { fsPath } from './byte-names.js';

/**
 * The opaque mark: trusted.overlay.opaque in root's store; in a user's,
 * which its unpacking child writes as root of a user namespace (where
 * trusted.* is denied) and whose overlay is mounted with `userxattr`, the
 * user.overlay.opaque that overlayfs reads there instead.
 */
export const OPAQUE_XATTR =
  process.env.TCR_USERNS_UNPACK === '1' || (process.geteuid?.() ?? 0) !== 0 ? 'user.overlay.opaque' : 'trusted.overlay.opaque';

/** overlayfs's whiteout: a character device with device number 0/0. */
export function isWhiteout(st: fs.Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

export function isOpaque(dir: string): boolean {
  const v = lgetxattr(fsPath(dir), OPAQUE_XATTR);
  return v !== null && v.toString() === 'y';
}

export function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(fsPath(p));
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw e;
  }
}

export interface Found {
  /** absolute path of the node in the layer that provides it */
  abs: string;
  st: fs.Stats;
}

/**
 * What `rel` is in the rootfs made of `layers` (top first), by overlayfs's
 * rules: the topmost layer that has the name decides; a whiteout deletes it;
 * a directory merges with the directories below it unless it is opaque; a
 * non-directory hides everything below. No symlink is ever followed: a
 * symlink (or any non-directory) as a parent component ends the lookup with
 * null, so a hostile layer cannot point the lookup outside the layers.
 */
export function lookupMerged(layers: readonly string[], rel: string): Found | null {
  const parts = rel === '' ? [] : rel.split('/');
  // the layers in which the prefix so far is a directory, top first
  let active = [...layers];
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const prefix = parts.slice(0, i + 1).join('/');
    const next: string[] = [];
    for (const layer of active) {
      const abs = path.join(layer, prefix);
      const st = lstatOrNull(abs);
      if (st === null) continue;
      if (isWhiteout(st)) break;
      if (!st.isDirectory()) {
        // a non-directory counts only when nothing above it was a directory
        if (next.length === 0 && last) return { abs, st };
        break;
      }
      next.push(layer);
      if (isOpaque(abs)) break;
    }
    if (next.length === 0) return null;
    if (last) {
      const abs = path.join(next[0], prefix);
      return { abs, st: fs.lstatSync(fsPath(abs)) };
    }
    active = next;
  }
  if (parts.length === 0 && layers.length > 0) return { abs: layers[0], st: fs.lstatSync(fsPath(layers[0])) };
  return null;
}

/**
 * The layers (top first) whose directory `rel` makes up the merged directory
 * at `rel`, by the same rules as lookupMerged; null when `rel` is not a
 * directory in the merged view. A volume's copy-up flattens just these.
 */
export function mergedDirLayers(layers: readonly string[], rel: string): string[] | null {
  const found = lookupMerged(layers, rel);
  if (found === null || !found.st.isDirectory()) return null;
  if (rel === '') return [...layers];
  const parent = rel.includes('/') ? mergedDirLayers(layers, rel.slice(0, rel.lastIndexOf('/'))) : [...layers];
  if (parent === null) return null;
  const out: string[] = [];
  for (const layer of parent) {
    const abs = path.join(layer, rel);
    const st = lstatOrNull(abs);
    if (st === null) continue;
    if (isWhiteout(st) || !st.isDirectory()) break;
    out.push(layer);
    if (isOpaque(abs)) break;
  }
  return out.length ? out : null;
}

/** Applies owner, mode, xattrs and times of `src` to `dst` (which must not be a symlink unless src is one). */
export function copyMetadata(src: string, dst: string, chown: boolean): void {
  const s = fsPath(src);
  const d = fsPath(dst);
  const st = fs.lstatSync(s, { bigint: true }); // bigint: times to the nanosecond
  if (chown) chownOrKeep(() => fs.lchownSync(d, Number(st.uid), Number(st.gid)), dst);
  // chown cleared setuid/setgid; symlinks have no mode of their own on Linux
  if (!st.isSymbolicLink()) fs.chmodSync(d, Number(st.mode) & 0o7777);
  // after chown: chown drops security.capability
  for (const [name, value] of lgetxattrs(s))
    if (!name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.')) lsetxattr(d, name, value);
  lutimens(d, timespecFromNs(st.atimeNs), timespecFromNs(st.mtimeNs));
}

/**
 * Creates `dst` (which must not exist; its parent is a directory this process
 * made) as a copy of the non-directory `src`: contents, type, device
 * numbers, owner, mode, xattrs and times. Directories are the caller's job.
 */
export function copyNode(src: string, st: fs.Stats, dst: string, chown: boolean): void {
  const s = fsPath(src);
  const d = fsPath(dst);
  if (st.isFile()) fs.copyFileSync(s, d, fs.constants.COPYFILE_EXCL);
  // a symlink's target is bytes too: read it as bytes, not as UTF-8
  else if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(s, { encoding: 'buffer' }), d);
  else if (st.isFIFO()) mknod(d, S_IFIFO, 0o600);
  else if (st.isCharacterDevice() || st.isBlockDevice()) {
    const { major, minor } = splitDev(st.rdev);
    mknod(d, st.isCharacterDevice() ? S_IFCHR : S_IFBLK, 0o600, major, minor);
  } else throw new Error(`cannot copy ${src}: unsupported file type`);
  copyMetadata(src, dst, chown);
}

/** The target of an unpack or flatten: an empty directory, or a name not taken yet (then made). */
export function prepareFreshDir(dir: string): void {
  try {
    fs.mkdirSync(dir, 0o700);
    return;
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
  }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new TcrError(`${dir} is not a directory`);
  if (fs.readdirSync(dir).length > 0) throw new TcrError(`${dir} is not empty: layers are written into a fresh directory`);
}
