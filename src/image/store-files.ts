// The image store's files on disk and how they change safely:
//   ROOT/images.json            names → images (manifest, config, diffIds, size)
//   ROOT/blobs/sha256/HEX       manifests and configs, by digest
//   ROOT/layers/sha256/HEX/diff a layer unpacked in overlay form, by diffID
//   ROOT/layers/sha256/HEX/layer.json  its size, the hard links it holds as copies
//   ROOT/tmp/                   staging: everything is built here, then renamed
//   ROOT/containers/ID/         a `tcr run IMAGE` container's bundle; image.json: what it uses (image-users.ts)
//   ROOT/volumes/NAME/          a volume (src/volumes/store.ts); a container's volumes.json: the ones it mounts
//   ROOT/lock, ROOT/gc.lock     flock files
// A reader never takes a lock: images.json and every directory appear whole
// (rename), so it sees the old state or the new one, never half of either.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TcrError, errorMessage, errnoCode } from '../errors.js';
import { native } from '../sys/native.js';
import { removeTree } from '../sys/remove-tree.js';
import type { StoredImage } from './types.js';

export const DEFAULT_STORE = '/var/lib/tcr';

/**
 * --store DIR, else $TCR_STORE, else /var/lib/tcr for root; an ordinary user
 * has a store of their own, where rootless podman keeps its images:
 * $XDG_DATA_HOME/tcr, else ~/.local/share/tcr (container state goes to
 * $XDG_RUNTIME_DIR/tcr, src/container/state-root.ts).
 */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  if (env.TCR_STORE) return env.TCR_STORE;
  if (uid === 0) return DEFAULT_STORE;
  return path.join(env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share'), 'tcr');
}

export interface IndexFile {
  version: 1;
  images: StoredImage[];
}

export function isNoSpace(e: unknown): boolean {
  const code = errnoCode(e);
  return code === 'ENOSPC' || code === 'EDQUOT' || /\bENOSPC\b|no space left on device/i.test(errorMessage(e));
}

/** A message a person understands for a full disk, naming the store and what was being written. */
export function storeError(e: unknown, root: string, what: string): Error {
  if (isNoSpace(e)) {
    return new TcrError(
      `no space left on device while writing ${what} into the image store ${root}: free some space (tcr rmi) or use a store on a larger filesystem (--store DIR or TCR_STORE)`,
    );
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Writes a file so that it appears whole or not at all: temp file, fsync, rename. */
export function writeAtomic(file: string, data: string | Buffer, mode = 0o600): void {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const fd = fs.openSync(tmp, 'w', mode);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** Runs `fn` holding an exclusive flock of `file` (made if missing); synchronous, so no await slips between a check and what it guards. */
export function withFlock<T>(file: string, fn: () => T): T {
  const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
  try {
    native().flock(fd, true);
    return fn();
  } finally {
    fs.closeSync(fd);
  }
}

export class StoreFiles {
  constructor(readonly root: string) {}

  get indexFile(): string {
    return path.join(this.root, 'images.json');
  }
  get tmpDir(): string {
    return path.join(this.root, 'tmp');
  }
  blobPath(digest: string): string {
    return path.join(this.root, 'blobs', 'sha256', digest.slice(7));
  }
  layerPath(diffId: string): string {
    return path.join(this.root, 'layers', 'sha256', diffId.slice(7));
  }

  /** Creates the directories (0700: layer contents may be secret). */
  init(): void {
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
      for (const d of ['blobs/sha256', 'layers/sha256', 'tmp']) fs.mkdirSync(path.join(this.root, d), { recursive: true, mode: 0o700 });
    } catch (e) {
      const code = errnoCode(e);
      if (code === 'EACCES' || code === 'EROFS' || code === 'EPERM')
        throw new TcrError(
          `image store ${this.root}: cannot create it (${code}): run as root or choose another with --store DIR / TCR_STORE`,
        );
      throw storeError(e, this.root, 'its directories');
    }
  }

  readIndex(): IndexFile {
    let text: string;
    try {
      text = fs.readFileSync(this.indexFile, 'utf8');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return { version: 1, images: [] };
      throw e;
    }
    try {
      const idx = JSON.parse(text) as IndexFile;
      if (!Array.isArray(idx.images)) throw new Error('no "images" array');
      return idx;
    } catch (e) {
      throw new TcrError(`image store index ${this.indexFile} is corrupt (${errorMessage(e)}); move it away to start an empty index`);
    }
  }

  /**
   * Runs `fn` on the index under the store's exclusive lock and writes back
   * what it returns. Synchronous on purpose: no await can sit inside the
   * lock, so two stores in one process cannot deadlock on it.
   */
  updateIndex<T>(fn: (idx: IndexFile) => T): T {
    return this.withLock(() => {
      const idx = this.readIndex();
      const result = fn(idx);
      try {
        writeAtomic(this.indexFile, JSON.stringify(idx, null, 1) + '\n');
      } catch (e) {
        throw storeError(e, this.root, 'the image index');
      }
      return result;
    });
  }

  /** Runs `fn` under the store's exclusive lock (the one updateIndex holds), synchronously for the same reason. */
  withLock<T>(fn: () => T): T {
    this.init();
    return withFlock(path.join(this.root, 'lock'), fn);
  }

  /**
   * An import holds the gc lock shared for its whole length, so that
   * garbage collection (which takes it exclusively, without waiting) never
   * deletes the layers of an image that is still being imported.
   */
  holdImport(): () => void {
    this.init();
    const fd = fs.openSync(path.join(this.root, 'gc.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    native().flock(fd, false);
    let open = true;
    return () => {
      if (open) fs.closeSync(fd);
      open = false;
    };
  }

  /** The gc lock, exclusively, or null at once if an import is running. */
  tryCollect(): (() => void) | null {
    this.init();
    const fd = fs.openSync(path.join(this.root, 'gc.lock'), fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    if (!native().flock(fd, true, true)) {
      fs.closeSync(fd);
      return null;
    }
    return () => fs.closeSync(fd);
  }

  /** Removes a directory by first renaming it into tmp/, so it vanishes at once even if removal is cut short. */
  removeDir(dir: string): void {
    const trash = path.join(this.tmpDir, `rm-${path.basename(dir)}-${Math.random().toString(36).slice(2)}`);
    try {
      fs.renameSync(dir, trash);
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') return;
      throw e;
    }
    removeTree(trash);
  }
}
