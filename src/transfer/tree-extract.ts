// A tar stream written into a directory held as an fd, the container's or
// the host's, taking the tar as hostile: names are normalised by
// tar-entry.ts (a '..' component refuses the archive), every parent is
// opened beneath the one before with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so no symlink, whether the tar made it or it was
// there, is followed; the last name is made with O_EXCL, mkdir, symlink,
// link or mknod through `/proc/self/fd/PARENT/NAME` (none follows a last
// symlink), after removing what was there (tar's replace).
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { showName } from '../image/byte-names.js';
import { EntryError, type LayerEntry, entryName, patchPaxDecoding, reasonOf, toEntry } from '../image/tar-entry.js';
import { S_IFBLK, S_IFCHR, S_IFIFO, futimens, lutimens, mknod } from '../sys/fsops.js';
import { O_PATH, RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, openat2 } from '../sys/openat2.js';
import { reopenDir } from './tree-pack.js';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = fs.constants;
const CHILD = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;

export interface ExtractOptions {
  /** owners from the archive (docker cp -a), or all these */
  owner: 'archive' | { uid: number; gid: number };
  /** for messages: "container web: /srv" */
  what: string;
}

interface DirMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: { sec: number; nsec: number };
}

const at = (fd: number, name: string) => `/proc/self/fd/${fd}/${name}`;

export class TreeExtractor {
  /** O_PATH fds of the directories reached so far, by path below the destination ('' is it) */
  private readonly dirs = new Map<string, number>();
  private readonly pending = new Map<string, DirMeta>();

  constructor(
    destFd: number,
    private readonly opts: ExtractOptions,
  ) {
    this.dirs.set('', destFd);
  }

  /** Reads the whole tar from `input`; the destination fd stays open (the caller's). */
  async extract(input: Readable): Promise<void> {
    const extract = tar.extract({ filenameEncoding: 'latin1' } as never);
    patchPaxDecoding(extract);
    input.on('error', (e) => extract.destroy(e));
    input.pipe(extract);
    try {
      for await (const item of extract) {
        const h = item.header;
        let e: LayerEntry;
        try {
          e = toEntry(h);
        } catch (err) {
          throw this.fail(entryName(h), err);
        }
        try {
          await this.entry(e, item as unknown as AsyncIterable<Buffer>);
        } catch (err) {
          throw this.fail(e.raw, err);
        }
      }
      this.finish();
    } catch (e) {
      if (e instanceof TcrError) throw e;
      throw new TcrError(`${this.opts.what}: not a readable tar archive (${errorMessage(e)})`);
    } finally {
      // on a failure, what is left of the input is not wanted (a packer stops on its destroyed pack)
      input.destroy();
      for (const [rel, fd] of this.dirs) if (rel !== '') fs.closeSync(fd);
    }
  }

  private fail(name: string, err: unknown): TcrError {
    return new TcrError(`${this.opts.what}: entry ${showName(name)}: ${reasonOf(err)}`);
  }

  private owner(e: LayerEntry): { uid: number; gid: number } {
    return this.opts.owner === 'archive' ? { uid: e.uid, gid: e.gid } : this.opts.owner;
  }

  private async entry(e: LayerEntry, body: AsyncIterable<Buffer>): Promise<void> {
    if (e.path === '') {
      // the tar's own "./": the destination keeps its owner and mode (docker's too)
      await drain(body);
      return;
    }
    const slash = e.path.lastIndexOf('/');
    const parent = this.dir(slash < 0 ? '' : e.path.slice(0, slash), true);
    const name = e.path.slice(slash + 1);
    const { uid, gid } = this.owner(e);
    switch (e.type) {
      case 'dir': {
        try {
          fs.mkdirSync(at(parent, name), 0o700);
        } catch (err) {
          if (errnoCode(err) !== 'EEXIST') throw err;
        }
        this.dir(e.path, false);
        this.pending.set(e.path, { mode: e.mode, uid, gid, mtime: e.mtime });
        break;
      }
      case 'file': {
        const fd = this.replace(parent, name, () => fs.openSync(at(parent, name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
        try {
          let written = 0;
          for await (const chunk of body) {
            let off = 0;
            while (off < chunk.length) off += fs.writeSync(fd, chunk, off, chunk.length - off);
            written += chunk.length;
          }
          if (written !== e.size) throw new EntryError(`truncated: ${written} of ${e.size} bytes`);
          fs.fchownSync(fd, uid, gid);
          fs.fchmodSync(fd, e.mode);
          futimens(fd, e.atime, e.mtime, at(parent, name));
        } finally {
          fs.closeSync(fd);
        }
        return;
      }
      case 'symlink':
        this.replace(parent, name, () => fs.symlinkSync(e.linkname, at(parent, name)));
        fs.lchownSync(at(parent, name), uid, gid);
        lutimens(at(parent, name), e.atime, e.mtime);
        break;
      case 'hardlink': {
        const ts = e.linkpath.lastIndexOf('/');
        const tparent = this.dir(ts < 0 ? '' : e.linkpath.slice(0, ts), false);
        const tname = e.linkpath.slice(ts + 1);
        // link(2) never follows a symlink at its first path: a symlink there is linked itself
        this.replace(parent, name, () => fs.linkSync(at(tparent, tname), at(parent, name)));
        break;
      }
      default: {
        const type = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        this.replace(parent, name, () => mknod(at(parent, name), type, 0o600, e.devmajor, e.devminor));
        fs.lchownSync(at(parent, name), uid, gid);
        const fd = openat2(parent, name, O_PATH | O_NOFOLLOW, CHILD);
        try {
          // chmod through the O_PATH fd of the node just made: never a path that could be swapped
          fs.chmodSync(`/proc/self/fd/${fd}`, e.mode);
        } finally {
          fs.closeSync(fd);
        }
      }
    }
    await drain(body); // a non-file entry has no content; tar-stream still wants it read
  }

  /** Runs `make`; a name that exists is removed first, unless it is a directory (docker refuses to replace one). */
  private replace<T>(parent: number, name: string, make: () => T): T {
    try {
      return make();
    } catch (err) {
      if (errnoCode(err) !== 'EEXIST') throw err;
      if (fs.lstatSync(at(parent, name)).isDirectory())
        throw new EntryError(`cannot overwrite directory ${showName(name)} with non-directory`);
      fs.unlinkSync(at(parent, name));
      return make();
    }
  }

  /** The O_PATH fd of directory `rel`, opened beneath its parent; with `create`, missing ones are made (0755). */
  private dir(rel: string, create: boolean): number {
    const known = this.dirs.get(rel);
    if (known !== undefined) return known;
    const slash = rel.lastIndexOf('/');
    const parent = this.dir(slash < 0 ? '' : rel.slice(0, slash), create);
    const name = rel.slice(slash + 1);
    let fd: number;
    try {
      fd = openat2(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW, CHILD);
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' && create) {
        fs.mkdirSync(at(parent, name), 0o755);
        fd = openat2(parent, name, O_PATH | O_DIRECTORY | O_NOFOLLOW, CHILD);
      } else if (code === 'ELOOP' || code === 'ENOTDIR' || code === 'EXDEV') {
        const st = fs.lstatSync(at(parent, name));
        throw new EntryError(`${showName(rel)} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}: refused as a parent`);
      } else throw err;
    }
    this.dirs.set(rel, fd);
    return fd;
  }

  /** Directory owners, modes and times, once everything in them exists. */
  private finish(): void {
    for (const [rel, m] of this.pending) {
      const fd = reopenDir(this.dirs.get(rel)!);
      try {
        fs.fchownSync(fd, m.uid, m.gid);
        fs.fchmodSync(fd, m.mode);
        futimens(fd, m.mtime, m.mtime, rel);
      } finally {
        fs.closeSync(fd);
      }
    }
  }
}

async function drain(body: AsyncIterable<Buffer>): Promise<void> {
  const it = body[Symbol.asyncIterator]();
  while (!(await it.next()).done);
}
