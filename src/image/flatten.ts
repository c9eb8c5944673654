// A plain root filesystem from layers in overlayfs form, bottom first: what
// a container sees through an overlay mount, as ordinary files. For hosts
// without overlayfs and for `tcr unpack`. Layer directories come from the
// store (written by unpackLayer), the destination is fresh and written only
// here; every name in it is lstat()ed before use and never followed. Names
// are read as bytes and carried in byte-names.ts's form, so a name that is
// not UTF-8 is copied exactly (fsPath() at each file-system call).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { fsetxattr, futimens, lgetxattrs } from '../sys/fsops.js';
import { timespecFromNs } from '../sys/time.js';
import { fsPath, nameFromBytes, printableName } from './byte-names.js';
import { copyNode, isOpaque, isWhiteout, lookupMerged, lstatOrNull, prepareFreshDir } from './overlay-tree.js';

/** The names in a directory, read as bytes (a name that is not UTF-8 would otherwise become U+FFFD). */
function namesIn(dir: string): string[] {
  return fs.readdirSync(fsPath(dir), { encoding: 'buffer' }).map(nameFromBytes);
}

const OPEN_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

export interface FlattenOptions {
  /** set owners from the layers (default: when running as root) */
  chown?: boolean;
  /**
   * per layer (as layerDirs), its hard links to lower layers' files that
   * overlay form holds as copies ([copy, target], ImageStore.layerLinks):
   * given, they become hard links to the file below, as applying the layer
   * tars one over the other makes them
   */
  lowerLinks?: readonly (readonly (readonly [string, string])[] | undefined)[];
}

class Flattener {
  /** each directory of dest → the layer directory whose metadata it gets (the topmost) */
  private readonly dirs = new Map<string, string>();
  /** hard links inside the current layer: its inode → the copy in dest (a layer never
   *  removes what it wrote itself, so these stay valid while the layer is walked) */
  private links = new Map<number, string>();
  /** the current layer's copies of lower files: copy → target */
  private lowerLinks = new Map<string, string>();
  /** the layers merged so far, top first */
  private readonly below: string[] = [];
  private root = '';
  current = '';

  constructor(
    private readonly dest: string,
    private readonly chown: boolean,
  ) {}

  layer(root: string, lowerLinks: readonly (readonly [string, string])[] = []): void {
    this.links = new Map();
    this.lowerLinks = new Map(lowerLinks);
    this.root = root;
    this.current = '';
    this.dirs.set('', root);
    this.walk(root, this.dest, '');
    this.below.unshift(root);
  }

  /**
   * The file of dest that the copy `rel` of this layer is a hard link to, or
   * undefined (then it stays a copy): only while this layer leaves the
   * target as the layers below have it, so that dest's file is that one; and
   * dest's path to it is checked to pass no symlink, so the link cannot take
   * in a file from outside.
   */
  private linkTarget(rel: string, st: fs.Stats): string | undefined {
    const target = this.lowerLinks.get(rel);
    if (target === undefined) return undefined;
    const parts = target.split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
    const found = lookupMerged([this.root, ...this.below], target);
    if (found === null || !found.st.isFile() || found.abs === path.join(this.root, target)) return undefined;
    let at = this.dest;
    for (const [i, part] of parts.entries()) {
      at = path.join(at, part);
      const cur = lstatOrNull(at);
      if (cur === null) return undefined;
      if (i < parts.length - 1 ? !cur.isDirectory() : !(cur.isFile() && cur.size === st.size)) return undefined;
    }
    return at;
  }

  /** Merges the layer directory `src` into the dest directory `dst` (a real directory). */
  private walk(src: string, dst: string, rel: string): void {
    for (const name of namesIn(src)) {
      const s = path.join(src, name);
      const d = path.join(dst, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      this.current = r;
      const st = fs.lstatSync(fsPath(s));
      let cur = lstatOrNull(d);
      if (isWhiteout(st)) {
        if (cur !== null) this.remove(d, r);
        continue;
      }
      if (st.isDirectory()) {
        if (cur !== null && !cur.isDirectory()) {
          this.remove(d, r);
          cur = null;
        }
        if (cur === null) fs.mkdirSync(fsPath(d), 0o700);
        else if (isOpaque(s)) this.clear(d, r);
        this.dirs.set(r, s);
        this.walk(s, d, r);
        continue;
      }
      if (cur !== null) this.remove(d, r);
      const first = st.isFile() && st.nlink > 1 ? this.links.get(st.ino) : undefined;
      const lower = first === undefined && st.isFile() ? this.linkTarget(r, st) : undefined;
      if (first !== undefined || lower !== undefined) fs.linkSync(fsPath((first ?? lower)!), fsPath(d));
      else copyNode(s, st, d, this.chown);
      if (first === undefined && st.isFile() && st.nlink > 1) this.links.set(st.ino, d);
    }
  }

  /** Removes a name of dest that a layer above deletes or replaces. */
  private remove(abs: string, rel: string): void {
    fs.rmSync(fsPath(abs), { recursive: true, force: true });
    this.forget(rel);
  }

  /** Empties a directory of dest that an opaque directory above replaces. */
  private clear(abs: string, rel: string): void {
    for (const name of namesIn(abs)) fs.rmSync(fsPath(path.join(abs, name)), { recursive: true, force: true });
    this.forget(rel);
  }

  private forget(rel: string): void {
    const prefix = `${rel}/`;
    for (const k of this.dirs.keys()) if (k === rel || k.startsWith(prefix)) this.dirs.delete(k);
  }

  /** Directory owners, modes, xattrs and times, once nothing more is written into them. */
  finish(): void {
    for (const [rel, src] of this.dirs) {
      this.current = rel;
      const abs = rel === '' ? this.dest : path.join(this.dest, rel);
      const st = fs.lstatSync(fsPath(src), { bigint: true });
      const fd = fs.openSync(fsPath(abs), OPEN_DIR);
      try {
        if (this.chown) fs.fchownSync(fd, Number(st.uid), Number(st.gid));
        fs.fchmodSync(fd, Number(st.mode) & 0o7777);
        for (const [name, value] of lgetxattrs(fsPath(src))) if (!name.startsWith('trusted.overlay.')) fsetxattr(fd, name, value, abs);
        futimens(fd, timespecFromNs(st.atimeNs), timespecFromNs(st.mtimeNs), abs);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}

/**
 * Builds a plain rootfs in `dest` (missing or empty) from overlay-form layer
 * directories, bottom first: whiteouts delete, opaque directories hide what
 * is below them, upper entries replace lower ones. On failure dest is removed.
 */
export function flattenLayers(layerDirs: readonly string[], dest: string, opts: FlattenOptions = {}): void {
  let prepared = false;
  let layer = '';
  const f = new Flattener(dest, opts.chown ?? process.getuid?.() === 0);
  try {
    prepareFreshDir(dest);
    prepared = true;
    for (const [i, l] of layerDirs.entries()) {
      layer = l;
      f.layer(l, opts.lowerLinks?.[i]);
    }
    layer = '';
    f.finish();
  } catch (err) {
    if (prepared) fs.rmSync(dest, { recursive: true, force: true });
    const e = err as NodeJS.ErrnoException;
    const why = typeof e.code === 'string' && e.code.startsWith('E') ? `${e.syscall ?? 'system call'}: ${e.code}` : e.message;
    throw new TcrError(`flattening${layer ? ` layer ${layer}` : ''} into ${dest}: ${printableName(f.current) || '/'}: ${why}`);
  }
}
