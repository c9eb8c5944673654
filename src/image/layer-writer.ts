// Writes the entries of one layer into a fresh directory in overlayfs form.
//
// Safety rests on one invariant: this writer is the only one writing under
// `root`, which starts empty, so it knows which paths are real directories
// it made (the `dirs` set). A parent is used only if it is in that set (or
// is created now as a directory); a name that is a symlink, file or device
// in this layer can never be a parent, so no write follows a symlink. New
// names are created with O_EXCL / mkdir / mknod / symlink / link, none of
// which follows a symlink in the last component; an existing name is removed
// first (tar's "replace" semantics). Directory metadata is applied at the
// end through an O_NOFOLLOW|O_DIRECTORY fd.
//
// Names are in byte-names.ts's form: the checks above work on them as
// strings, and each file-system call gets fsPath() of one, the exact bytes.
import fs from 'node:fs';
import path from 'node:path';
import { chownOrKeep } from './chown-keep.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, fsetxattr, futimens, lgetxattr, lgetxattrs, lsetxattr, lutimens, mknod } from '../sys/fsops.js';
import { type Timespec, timespecFromNs } from '../sys/time.js';
import { type FsPath, fsPath, showName } from './byte-names.js';
import { OPAQUE_XATTR, copyNode, isWhiteout, lookupMerged, lstatOrNull } from './overlay-tree.js';
import { EntryError, type LayerEntry, hasContent } from './tar-entry.js';
import { errnoCode } from '../errors.js';

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  xattrs: Map<string, Buffer>;
}

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY, O_DIRECTORY } = fs.constants;
const O_CLOEXEC = 0o2000000; // not in fs.constants; Linux x86_64/arm64 value
const CREATE_FILE = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
const OPEN_DIR = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
const WH = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

export interface WriterOptions {
  /** the layers below this one, top first: hard-link targets and implicit directories resolve there */
  lowerDirs: readonly string[];
  /** set owners (root only; without it files belong to the caller) */
  chown: boolean;
}

/** xattrs a layer may not set: they would steer overlayfs (opaque, redirect, metacopy). */
function allowedXattr(name: string): boolean {
  return !name.startsWith('trusted.overlay.') && !name.startsWith('user.overlay.');
}

export class LayerWriter {
  private readonly dirs = new Set<string>(['']);
  private readonly pending = new Map<string, DirMeta>();
  /** lower-layer hard-link targets already copied into this layer: target → copy, and the copy's inode */
  private readonly lowerCopies = new Map<string, { copy: string; ino: number }>();
  /** the regular file being written, between beginFile() and endFile() */
  private fd = -1;
  private file: LayerEntry | null = null;
  private written = 0;
  /** permission bits that creating a file may lose (umask), so that only then fchmod is needed */
  private readonly lost: number;
  private readonly uid = process.geteuid?.() ?? 0;
  private readonly gid = process.getegid?.() ?? 0;

  constructor(
    readonly root: string,
    private readonly opts: WriterOptions,
  ) {
    // Other users must not reach half-written files; the final pass sets the
    // real mode. This also clears a setgid bit, so new files get our gid.
    fs.chmodSync(root, 0o700);
    // a default ACL, not the umask, decides new files' modes: then always chmod
    this.lost = lgetxattr(root, 'system.posix_acl_default') !== null ? 0o777 : currentUmask();
    const epoch = { sec: 0, nsec: 0 };
    this.pending.set('', this.inheritedMeta('', { mode: 0o755, uid: 0, gid: 0, atime: epoch, mtime: epoch, xattrs: new Map() }));
  }

  /** the absolute path of `rel`, as a name (for lookups and messages) */
  private abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** the absolute path of `rel`, as file-system calls take it */
  private at(rel: string): FsPath {
    return fsPath(this.abs(rel));
  }

  /** Applies an entry whose content, if any, is not written: anything but a regular file. */
  entry(e: LayerEntry): void {
    if (hasContent(e)) throw new Error('LayerWriter.entry() given a regular file');
    const base = e.path === '' ? '' : path.posix.basename(e.path);
    if (base.startsWith(WH)) return this.whiteout(e, base);
    if (e.path === '') {
      if (e.type !== 'dir') throw new EntryError(`a ${e.type} cannot replace the layer root`);
      this.pending.set('', metaOf(e));
      return;
    }
    this.ensureDir(parentOf(e.path), e);
    const abs = this.at(e.path);
    switch (e.type) {
      case 'dir':
        return this.dir(e, abs);
      case 'symlink':
        this.create(e.path, () => fs.symlinkSync(fsPath(e.linkname), abs));
        return this.finishNode(e, abs, false);
      case 'hardlink':
        return this.hardlink(e, abs);
      case 'char':
      case 'block':
      case 'fifo': {
        const type = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        this.create(e.path, () => mknod(abs, type, 0o600, e.devmajor, e.devminor));
        return this.finishNode(e, abs, true);
      }
    }
  }

  /** `.wh..wh..opq` marks its directory opaque; `.wh.NAME` hides NAME of the layers below. */
  private whiteout(e: LayerEntry, base: string): void {
    const dir = parentOf(e.path);
    if (base === OPAQUE_MARKER) {
      this.ensureDir(dir, e);
      lsetxattr(this.at(dir), OPAQUE_XATTR, Buffer.from('y'));
      return;
    }
    // other .wh..wh. names are aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): no meaning here
    if (base.startsWith(WH + WH)) return;
    const name = base.slice(WH.length);
    if (name === '' || name === '.' || name === '..') throw new EntryError(`whiteout names no valid entry (${showName(name)})`);
    this.ensureDir(dir, e);
    const target = dir === '' ? name : `${dir}/${name}`;
    // a whiteout hides only lower layers' entries: if this layer wrote the
    // name (or made it a parent), the whiteout is a no-op in overlay form
    if (lstatOrNull(this.abs(target)) !== null) return;
    mknod(this.at(target), S_IFCHR, 0, 0, 0);
  }

  private dir(e: LayerEntry, abs: FsPath): void {
    try {
      fs.mkdirSync(abs, 0o700);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (!fs.lstatSync(abs).isDirectory()) {
        // a non-directory of this layer (a file, a whiteout) hid the lower
        // layers' entries under this name: the new directory must too
        this.remove(e.path);
        fs.mkdirSync(abs, 0o700);
        lsetxattr(abs, OPAQUE_XATTR, Buffer.from('y'));
      }
    }
    this.dirs.add(e.path);
    this.pending.set(e.path, metaOf(e));
  }

  /** Creates a regular file; its content follows through write(), then endFile(). */
  beginFile(e: LayerEntry): void {
    if (this.fd >= 0) throw new Error('LayerWriter.beginFile() while a file is open');
    this.ensureDir(parentOf(e.path), e);
    const abs = this.at(e.path);
    this.create(e.path, () => {
      this.fd = fs.openSync(abs, CREATE_FILE, e.mode & 0o777);
    });
    this.file = e;
    this.written = 0;
  }

  write(chunk: Uint8Array): void {
    let off = 0;
    while (off < chunk.length) off += fs.writeSync(this.fd, chunk, off, chunk.length - off);
    this.written += chunk.length;
  }

  /** Owner, mode, xattrs and times of the file just written, then close. */
  endFile(): void {
    const e = this.file;
    const fd = this.fd;
    if (e === null || fd < 0) throw new Error('LayerWriter.endFile() without beginFile()');
    if (this.written !== e.size) throw new EntryError(`truncated: ${this.written} of ${e.size} bytes`);
    const abs = this.abs(e.path); // for messages only
    // Order matters: chown clears setuid/setgid and security.capability.
    // Most image files are root's and 0644/0755: then open() already gave
    // the right owner and mode, and two syscalls per file are saved.
    if (this.opts.chown && (e.uid !== this.uid || e.gid !== this.gid)) chownOrKeep(() => fs.fchownSync(fd, e.uid, e.gid), abs);
    if ((e.mode & 0o7000) !== 0 || (e.mode & 0o777 & this.lost) !== 0) fs.fchmodSync(fd, e.mode);
    for (const [name, value] of e.xattrs) if (allowedXattr(name)) fsetxattr(fd, name, value, abs);
    futimens(fd, e.atime, e.mtime, abs);
    this.fd = -1;
    this.file = null;
    fs.closeSync(fd);
  }

  private hardlink(e: LayerEntry, abs: FsPath): void {
    const target = e.linkpath;
    if (target === '') throw new EntryError('hard link to the layer root');
    if (target === e.path) return;
    // in this layer: the target's parent must be a directory this layer made
    const here = this.dirs.has(parentOf(target)) ? lstatOrNull(this.abs(target)) : null;
    if (here !== null && !isWhiteout(here)) {
      if (here.isDirectory()) throw new EntryError(`hard link to a directory (${showName(target)})`);
      this.create(e.path, () => fs.linkSync(this.at(target), abs));
      return;
    }
    // a target already copied up from a lower layer: link to that copy
    const copy = this.lowerCopies.get(target)?.copy;
    if (copy !== undefined && this.dirs.has(parentOf(copy)) && lstatOrNull(this.abs(copy))?.isFile()) {
      this.create(e.path, () => fs.linkSync(this.at(copy), abs));
      return;
    }
    // in a lower layer: overlay layers cannot share inodes, so this layer gets a copy
    const found = lookupMerged([this.root, ...this.opts.lowerDirs], target);
    if (found === null || found.st.isDirectory() || isWhiteout(found.st))
      throw new EntryError(`hard link target ${showName(target)} is not in this layer or the layers below`);
    this.create(e.path, () => copyNode(found.abs, found.st, this.abs(e.path), this.opts.chown));
    this.lowerCopies.set(target, { copy: e.path, ino: fs.lstatSync(abs).ino });
  }

  /**
   * The copies of lower layers' files that hard links made, as [copy, target]
   * pairs: a flattened rootfs (tcr unpack) can make them links again, which
   * overlay form cannot. Only copies still in place (same inode) are listed.
   */
  lowerLinks(): [string, string][] {
    const out: [string, string][] = [];
    for (const [target, { copy, ino }] of this.lowerCopies)
      if (this.dirs.has(parentOf(copy)) && lstatOrNull(this.abs(copy))?.ino === ino) out.push([copy, target]);
    return out;
  }

  /** Owner, mode, xattrs and times of a symlink or device just created by path. */
  private finishNode(e: LayerEntry, abs: FsPath, chmod: boolean): void {
    if (this.opts.chown && (e.uid !== this.uid || e.gid !== this.gid)) chownOrKeep(() => fs.lchownSync(abs, e.uid, e.gid), String(abs));
    if (chmod) fs.chmodSync(abs, e.mode); // abs is the device we just made, never a symlink
    for (const [name, value] of e.xattrs) if (allowedXattr(name)) lsetxattr(abs, name, value);
    lutimens(abs, e.atime, e.mtime);
  }

  /** Runs `make`; if the name exists, removes it (tar replaces) and runs `make` again. */
  private create(rel: string, make: () => void): void {
    try {
      make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      this.remove(rel);
      make();
    }
  }

  /** Removes a name of this layer (recursively for a directory) and forgets what was under it. */
  private remove(rel: string): void {
    const abs = this.at(rel);
    if (fs.lstatSync(abs).isDirectory()) {
      // rmSync lstat()s every node and never follows a symlink
      fs.rmSync(abs, { recursive: true, force: true });
      const prefix = `${rel}/`;
      for (const d of this.dirs) if (d === rel || d.startsWith(prefix)) this.dirs.delete(d);
      for (const d of this.pending.keys()) if (d === rel || d.startsWith(prefix)) this.pending.delete(d);
    } else fs.unlinkSync(abs);
  }

  /** Makes `rel` a directory of this layer if it is not one yet; refuses to pass a non-directory. */
  private ensureDir(rel: string, e: LayerEntry): void {
    if (this.dirs.has(rel)) return;
    this.ensureDir(parentOf(rel), e);
    const abs = this.at(rel);
    try {
      fs.mkdirSync(abs, 0o700);
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      const st = fs.lstatSync(abs);
      const what = st.isSymbolicLink() ? 'a symlink' : isWhiteout(st) ? 'a whiteout' : 'not a directory';
      if (!st.isDirectory()) throw new EntryError(`parent ${showName(rel)} is ${what} in this layer`);
    }
    this.dirs.add(rel);
    // a directory the archive never named keeps the look it has below (in
    // overlay form the upper directory's owner and mode are the ones seen)
    this.pending.set(rel, this.inheritedMeta(rel, { ...metaOf(e), mode: 0o755, uid: 0, gid: 0, xattrs: new Map() }));
  }

  private inheritedMeta(rel: string, fallback: DirMeta): DirMeta {
    const below = this.opts.lowerDirs.length > 0 ? lookupMerged(this.opts.lowerDirs, rel) : null;
    if (below === null || !below.st.isDirectory()) return fallback;
    const st = fs.lstatSync(fsPath(below.abs), { bigint: true });
    return {
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      atime: timespecFromNs(st.atimeNs),
      mtime: timespecFromNs(st.mtimeNs),
      xattrs: lgetxattrs(fsPath(below.abs)),
    };
  }

  /** Applies directory owners, modes, xattrs and times, after all their contents exist. */
  finish(): void {
    for (const [rel, m] of this.pending) {
      if (!this.dirs.has(rel)) continue;
      const abs = this.at(rel);
      const fd = fs.openSync(abs, OPEN_DIR);
      try {
        if (this.opts.chown) chownOrKeep(() => fs.fchownSync(fd, m.uid, m.gid), abs);
        fs.fchmodSync(fd, m.mode);
        for (const [name, value] of m.xattrs) if (allowedXattr(name)) fsetxattr(fd, name, value, abs);
        futimens(fd, m.atime, m.mtime, abs);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Closes what an interrupted entry left open (the caller then removes the directory). */
  abort(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function currentUmask(): number {
  // process.umask() without an argument only reads it (it is not changed)
  return process.umask();
}

function parentOf(rel: string): string {
  const i = rel.lastIndexOf('/');
  return i < 0 ? '' : rel.slice(0, i);
}

function metaOf(e: LayerEntry): DirMeta {
  return { mode: e.mode, uid: e.uid, gid: e.gid, atime: e.atime, mtime: e.mtime, xattrs: e.xattrs };
}
