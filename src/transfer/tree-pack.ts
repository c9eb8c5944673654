// A file tree into a tar stream, read through file descriptors only: each
// node is an O_PATH|O_NOFOLLOW fd opened beneath its parent's fd with
// openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), one name at a time, so a
// container that swaps a directory for a symlink while it is read makes the
// read fail, never leave its root. A symlink is stored as one, never
// followed. Used by `tcr cp` (both directions), `export`, and to turn the
// store's overlay-form layers back into layer tars (save, push).
import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Header as FullHeader, Pack } from 'tar-stream';
import { O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, openat2, readlinkFd } from '../sys/openat2.js';
import { lgetxattr, splitDev } from '../sys/fsops.js';

type Header = Partial<FullHeader> & { name: string };

const { O_NOFOLLOW, O_RDONLY, O_NONBLOCK, O_DIRECTORY } = fs.constants;
const CHILD = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
const OPAQUE_XATTR = 'trusted.overlay.opaque';

/** An O_PATH fd of `name` in the directory `dirfd`, the name itself when it is a symlink. */
export function openChild(dirfd: number, name: string): number {
  return openat2(dirfd, name, O_PATH | O_NOFOLLOW, CHILD);
}

export interface PackOptions {
  /**
   * Overlay form in, layer tar out (save, push): a 0/0 character device is
   * a whiteout (`.wh.NAME`), an opaque directory gets `.wh..wh..opq`. The
   * directory's path on the host is needed to read the opaque xattr.
   */
  layerRoot?: string;
  /** every owner as this (docker cp without -a); default: the files' own */
  owner?: { uid: number; gid: number };
}

/** Writes tar entries for a tree into a tar-stream pack; hard links inside it stay links. */
export class TreePacker {
  private readonly links = new Map<string, string>();

  constructor(
    private readonly pack: Pack,
    private readonly opts: PackOptions = {},
  ) {}

  /** The node `fd` (closed here) as `name` in the tar, with everything under it. */
  async node(fd: number, name: string, rel = ''): Promise<void> {
    try {
      const st = fs.fstatSync(fd);
      const base = this.header(st, name);
      if (st.isDirectory()) {
        await this.entry({ ...base, name: `${name}/`, type: 'directory' });
        if (this.opts.layerRoot !== undefined && this.isOpaque(rel))
          await this.entry({ ...base, name: `${name}/.wh..wh..opq`, type: 'file', size: 0, mode: 0o644 });
        await this.children(fd, name, rel);
      } else if (st.isSymbolicLink()) {
        await this.entry({ ...base, type: 'symlink', linkname: readlinkFd(fd) });
      } else if (st.isFile()) {
        await this.file(fd, st, base);
      } else if (st.isCharacterDevice() && st.rdev === 0 && this.opts.layerRoot !== undefined) {
        const slash = name.lastIndexOf('/');
        await this.entry({ ...base, name: `${name.slice(0, slash + 1)}.wh.${name.slice(slash + 1)}`, type: 'file', size: 0, mode: 0o644 });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        const { major: devmajor, minor: devminor } = splitDev(st.rdev);
        await this.entry({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', devmajor, devminor });
      } else if (st.isFIFO()) {
        await this.entry({ ...base, type: 'fifo' });
      }
      // sockets are not archived (tar has no type for them)
    } finally {
      fs.closeSync(fd);
    }
  }

  /** What is in the directory `dirfd` (not closed here), each under `prefix/` in the tar ('' for the top). */
  async children(dirfd: number, prefix: string, rel = ''): Promise<void> {
    const names = fs.readdirSync(`/proc/self/fd/${dirfd}`).sort();
    for (const n of names) await this.node(openChild(dirfd, n), prefix ? `${prefix}/${n}` : n, rel ? `${rel}/${n}` : n);
  }

  private isOpaque(rel: string): boolean {
    const v = lgetxattr(rel ? `${this.opts.layerRoot}/${rel}` : this.opts.layerRoot!, OPAQUE_XATTR);
    return v !== null && v.toString() === 'y';
  }

  private header(st: fs.Stats, name: string): Header {
    return {
      name,
      mode: st.mode & 0o7777,
      uid: this.opts.owner?.uid ?? st.uid,
      gid: this.opts.owner?.gid ?? st.gid,
      mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    };
  }

  private async file(fd: number, st: fs.Stats, base: Header): Promise<void> {
    if (st.nlink > 1) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.links.get(key);
      if (first !== undefined) return this.entry({ ...base, type: 'link', linkname: first, size: 0 });
      this.links.set(key, base.name);
    }
    // O_NONBLOCK: a FIFO put in the file's place cannot block the open; the fd is the same inode anyway
    const rfd = fs.openSync(`/proc/self/fd/${fd}`, O_RDONLY | O_NONBLOCK);
    try {
      const size = fs.fstatSync(rfd).size;
      const sink = this.pack.entry({ ...base, type: 'file', size });
      // exactly `size` bytes: a file that grows while it is read is cut, one that shrinks is padded
      let sent = 0;
      const chunks = async function* (): AsyncGenerator<Buffer> {
        const buf = Buffer.alloc(Math.min(1 << 20, Math.max(size, 1)));
        while (sent < size) {
          const n = fs.readSync(rfd, buf, 0, Math.min(buf.length, size - sent), null);
          if (n === 0) break;
          sent += n;
          yield Buffer.from(buf.subarray(0, n));
        }
        if (sent < size) yield Buffer.alloc(size - sent);
      };
      await pipeline(chunks, sink);
    } finally {
      fs.closeSync(rfd);
    }
  }

  /** An entry without content: a regular one (a whiteout) gets an empty body, or tar-stream would wait for one. */
  private entry(h: Header): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (e?: Error | null) => (e ? reject(e) : resolve());
      if (h.type === 'file') this.pack.entry(h, Buffer.alloc(0), done);
      else this.pack.entry(h, done);
    });
  }
}

/** An O_RDONLY|O_DIRECTORY fd of a directory held as an O_PATH fd (for fchmod and friends). */
export function reopenDir(fd: number): number {
  return fs.openSync(`/proc/self/fd/${fd}`, O_RDONLY | O_DIRECTORY);
}
