// ImageStore: images on this machine, content-addressed. Layers are unpacked
// once, by diffID, and shared by every image that has them; an image is an
// entry of images.json pointing at its manifest, config and layers. Nothing
// becomes visible before it is complete and verified (see store-files.ts).
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { TcrError, errnoCode } from '../errors.js';
import { checkDigest, sha256 } from './digest.js';
import { candidates, formatRef, normalizeName, parseRegistryRef, repoName, searchRegistries } from './reference.js';
import { StoreFiles, defaultStoreRoot, storeError, writeAtomic } from './store-files.js';
import type { ImageConfig, ImageManifest, StoredImage } from './types.js';
import { inUseMessage, readImageUses, writeImageUse } from './image-users.js';

export { defaultStoreRoot };

import type { Compression } from './decompress.js';
import type { UnpackOptions, UnpackResult } from './unpack.js';

export type { Compression };

/** The layer unpacker's signature (src/image/unpack.ts). */
export type UnpackFn = (input: Readable, dir: string, opts: UnpackOptions) => Promise<UnpackResult>;

export interface StoreOptions {
  /** another unpacker than src/image/unpack.ts (tests, instrumented callers) */
  unpack?: UnpackFn;
  /** default: $TCR_STORE, else /var/lib/tcr */
  root?: string;
}

export interface NewImage {
  manifest: Buffer;
  config: Buffer;
  /** names to give it (normalized; taken away from any other image that had them) */
  names: string[];
  /** registry/repository@digest the image was pulled by */
  repoDigests?: string[];
}

/** ROOT/layers/sha256/HEX/layer.json */
interface LayerInfo {
  size?: number;
  lowerLinks?: [string, string][];
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

export class ImageStore {
  readonly root: string;
  private files: StoreFiles;

  constructor(private opts: StoreOptions = {}) {
    this.root = path.resolve(opts.root ?? defaultStoreRoot());
    this.files = new StoreFiles(this.root);
  }

  list(): StoredImage[] {
    return this.files.readIndex().images;
  }

  /** The image with this config digest (its id). */
  get(id: string): StoredImage | undefined {
    return this.list().find((i) => i.configDigest === id);
  }

  /**
   * Finds an image by what a user types: a name (short names completed on
   * the search registries, then localhost/), name@digest, a full id
   * (sha256:…) or a unique prefix of one. Names win over id prefixes, as in docker.
   */
  resolve(nameOrId: string): StoredImage | undefined {
    const images = this.list();
    const full = /^(?:sha256:)?([a-f0-9]{64})$/.exec(nameOrId);
    if (full) {
      const d = `sha256:${full[1]}`;
      const hit = images.find((i) => i.configDigest === d || i.manifestDigest === d);
      if (hit) return hit;
    }
    let parsed: ReturnType<typeof parseRegistryRef> | undefined;
    try {
      parsed = parseRegistryRef(nameOrId);
    } catch {
      // not a name: maybe an id prefix
    }
    if (parsed) {
      const regs = [...searchRegistries(), 'localhost'];
      for (const c of candidates(parsed.ref, parsed.short, regs)) {
        if (c.digest) {
          const rd = `${repoName(c)}@${c.digest}`;
          const hit = images.find(
            (i) => i.repoDigests?.includes(rd) || (i.manifestDigest === c.digest && i.names.some((n) => n.startsWith(repoName(c) + ':'))),
          );
          if (hit) return hit;
        } else {
          const name = formatRef(c);
          const hit = images.find((i) => i.names.includes(name));
          if (hit) return hit;
        }
      }
    }
    const prefix = /^(?:sha256:)?([a-f0-9]{3,63})$/.exec(nameOrId);
    if (prefix) {
      const hits = images.filter((i) => i.configDigest.slice(7).startsWith(prefix[1]));
      if (hits.length > 1)
        throw new TcrError(
          `image id prefix ${nameOrId} is ambiguous: it matches ${hits.map((h) => h.configDigest.slice(7, 19)).join(', ')}`,
        );
      return hits[0];
    }
    return undefined;
  }

  /** Like resolve, with an error that says where tcr looked. */
  require(nameOrId: string): StoredImage {
    const img = this.resolve(nameOrId);
    if (!img)
      throw new TcrError(
        `image ${JSON.stringify(nameOrId)} is not in the image store ${this.root} (tcr pull it, or tcr load / tcr import it)`,
      );
    return img;
  }

  manifest(img: StoredImage): ImageManifest {
    return JSON.parse(this.readBlob(img.manifestDigest).toString('utf8')) as ImageManifest;
  }

  config(img: StoredImage): ImageConfig {
    return JSON.parse(this.readBlob(img.configDigest).toString('utf8')) as ImageConfig;
  }

  /** The layer directories of an image, bottom first, each checked to be present. */
  layerDirs(img: StoredImage): string[] {
    return img.diffIds.map((d) => {
      if (!this.hasLayer(d))
        throw new TcrError(
          `image ${img.names[0] ?? img.configDigest}: layer ${d} is missing from ${this.root}; remove the image (tcr rmi) and pull it again`,
        );
      return this.layerDir(d);
    });
  }

  readBlob(digest: string): Buffer {
    const file = this.files.blobPath(checkDigest(digest, 'blob'));
    // Verified when it was stored (pull, load, import: src/image/digest.ts)
    // and written atomically into a root-only store; not hashed again at each
    // read, which would load node:crypto into every `tcr run`.
    return fs.readFileSync(file);
  }

  hasLayer(diffId: string): boolean {
    return fs.existsSync(this.layerDir(diffId));
  }

  /** The directory to use as an overlay lower dir for this layer. */
  layerDir(diffId: string): string {
    return path.join(this.files.layerPath(checkDigest(diffId, 'layer diffID')), 'diff');
  }

  private layerInfo(diffId: string): LayerInfo {
    try {
      return JSON.parse(fs.readFileSync(path.join(this.files.layerPath(diffId), 'layer.json'), 'utf8')) as LayerInfo;
    } catch {
      return {};
    }
  }

  /** The unpacked size of a stored layer in bytes (0 if unknown). */
  layerSize(diffId: string): number {
    return this.layerInfo(diffId).size ?? 0;
  }

  /** The layer's hard links to lower layers' files, which it holds as copies: [copy, target] (undefined: unpacked before tcr recorded them). */
  layerLinks(diffId: string): [string, string][] | undefined {
    return this.layerInfo(diffId).lowerLinks;
  }

  /**
   * Unpacks a layer into the store unless it is there already. `open` gives
   * the layer's (possibly compressed) bytes; the unpacker checks the
   * uncompressed digest against diffId. It is built in tmp/ and renamed into
   * place only when whole and verified; `beforeCommit` may veto (e.g. the
   * compressed blob's digest was wrong). `lowerDirs` (top first) are the
   * layers below it, where its hard links may point. Returns whether it was created.
   */
  async ensureLayer(
    diffId: string,
    open: () => Readable | Promise<Readable>,
    compression: Compression,
    opts: { maxBytes?: number; lowerDirs?: string[]; beforeCommit?: () => void } = {},
  ): Promise<{ created: boolean; size: number }> {
    checkDigest(diffId, 'layer diffID');
    const final = this.files.layerPath(diffId);
    if (fs.existsSync(final)) return { created: false, size: this.layerSize(diffId) };
    this.files.init();
    let stage: string;
    try {
      stage = fs.mkdtempSync(path.join(this.files.tmpDir, 'layer-'));
    } catch (e) {
      throw storeError(e, this.root, `layer ${diffId}`);
    }
    let input: Readable | undefined;
    try {
      const unpackLayer = this.opts.unpack ?? (await import('./unpack.js')).unpackLayer;
      input = await open();
      const r = await unpackLayer(input, path.join(stage, 'diff'), {
        compression,
        expectedDiffId: diffId,
        maxBytes: opts.maxBytes,
        lowerDirs: opts.lowerDirs,
      });
      // the unpacker has the tar's end; read what follows so a digest check on the raw blob completes
      if (!input.readableEnded && !input.destroyed) {
        input.resume();
        await finished(input);
      }
      opts.beforeCommit?.();
      writeAtomic(
        path.join(stage, 'layer.json'),
        JSON.stringify({ diffId, size: r.size, created: new Date().toISOString(), lowerLinks: r.lowerLinks }) + '\n',
      );
      try {
        fs.renameSync(stage, final);
      } catch (e) {
        const code = errnoCode(e);
        // another import finished the same layer first: theirs is as good as ours
        if (code !== 'EEXIST' && code !== 'ENOTEMPTY') throw e;
        fs.rmSync(stage, { recursive: true, force: true });
        return { created: false, size: this.layerSize(diffId) };
      }
      return { created: true, size: r.size };
    } catch (e) {
      input?.destroy();
      fs.rmSync(stage, { recursive: true, force: true });
      throw storeError(e, this.root, `layer ${diffId}`);
    }
  }

  /**
   * Records an image whose layers are all in the store. Checks what it is
   * given (manifest → config digest, diff_ids count, every layer present)
   * so a caller cannot record a broken image.
   */
  addImage(img: NewImage): StoredImage {
    const manifestDigest = sha256(img.manifest);
    const configDigest = sha256(img.config);
    const manifest = JSON.parse(img.manifest.toString('utf8')) as ImageManifest;
    const config = JSON.parse(img.config.toString('utf8')) as ImageConfig;
    if (manifest.config?.digest !== configDigest)
      throw new TcrError(
        `manifest ${manifestDigest} names config ${manifest.config?.digest}, but the config given has digest ${configDigest}`,
      );
    const diffIds = config.rootfs?.diff_ids ?? [];
    if (diffIds.length !== manifest.layers.length)
      throw new TcrError(
        `image config ${configDigest} lists ${diffIds.length} layer diff_ids but manifest ${manifestDigest} has ${manifest.layers.length} layers`,
      );
    const size = [...new Set(diffIds)].reduce((n, d) => {
      if (!this.hasLayer(d)) throw new TcrError(`cannot record image ${configDigest}: its layer ${d} is not in the store`);
      return n + this.layerSize(d);
    }, 0);
    const names = img.names.map((n) => normalizeName(n));
    this.files.init();
    try {
      for (const [digest, data] of [
        [manifestDigest, img.manifest],
        [configDigest, img.config],
      ] as const) {
        if (!fs.existsSync(this.files.blobPath(digest))) writeAtomic(this.files.blobPath(digest), data, 0o644);
      }
    } catch (e) {
      throw storeError(e, this.root, 'the image manifest and config');
    }
    return this.files.updateIndex((idx) => {
      for (const other of idx.images) other.names = other.names.filter((n) => !names.includes(n));
      let rec = idx.images.find((i) => i.configDigest === configDigest);
      if (!rec) {
        rec = { manifestDigest, configDigest, names: [], diffIds, size, created: config.created };
        idx.images.push(rec);
      }
      rec.manifestDigest = manifestDigest;
      rec.names = [...new Set([...rec.names, ...names])];
      const rd = [...new Set([...(rec.repoDigests ?? []), ...(img.repoDigests ?? [])])];
      if (rd.length) rec.repoDigests = rd;
      return { ...rec };
    });
  }

  /** Gives an image one more name (`tcr tag`); the name leaves any image that had it. */
  tag(nameOrId: string, newName: string): StoredImage {
    const img = this.require(nameOrId);
    const name = normalizeName(newName);
    return this.files.updateIndex((idx) => {
      for (const other of idx.images) other.names = other.names.filter((n) => n !== name);
      const rec = idx.images.find((i) => i.configDigest === img.configDigest);
      if (!rec) throw new TcrError(`image ${nameOrId} was removed meanwhile`);
      rec.names.push(name);
      return { ...rec };
    });
  }

  /**
   * `tcr rmi`: a name of an image that has other names is only untagged;
   * otherwise the image goes, and then every layer and blob no image uses.
   */
  remove(nameOrId: string, opts: { force?: boolean } = {}): RemoveResult {
    const img = this.require(nameOrId);
    const byName = img.names.find((n) => {
      try {
        return n === normalizeName(nameOrId) || this.resolveName(nameOrId) === n;
      } catch {
        return false;
      }
    });
    if (byName && img.names.length > 1) {
      this.files.updateIndex((idx) => {
        const rec = idx.images.find((i) => i.configDigest === img.configDigest);
        if (rec) rec.names = rec.names.filter((n) => n !== byName);
      });
      return { untagged: [byName], deleted: [] };
    }
    if (!byName && img.names.length > 1 && !opts.force)
      throw new TcrError(
        `image ${img.configDigest.slice(7, 19)} has several names (${img.names.join(', ')}): remove them one by one, or use --force`,
      );
    // the check and the removal under the lock under which `tcr run` records a use (claim): neither can slip between
    const result = this.files.updateIndex((idx): RemoveResult => {
      const rec = idx.images.find((i) => i.configDigest === img.configDigest);
      if (!rec) throw new TcrError(`image ${nameOrId} was removed meanwhile`);
      const users = this.users(rec.configDigest);
      if (users.length) {
        if (!opts.force || !rec.names.length) throw new TcrError(inUseMessage(rec, users));
        // docker's rmi -f of an image in use: the names go; the image stays, untagged, until its containers do
        const untagged = rec.names;
        rec.names = [];
        return { untagged, deleted: [] };
      }
      idx.images = idx.images.filter((i) => i.configDigest !== img.configDigest);
      return { untagged: rec.names, deleted: [rec.configDigest] };
    });
    if (result.deleted.length) this.gc();
    return result;
  }

  /** The containers (ids) that use the image with this config digest. */
  users(configDigest: string): string[] {
    return readImageUses(this.root)
      .filter((u) => u.live && u.image === configDigest)
      .map((u) => u.container);
  }

  /**
   * Records that the container directory `dir` (state directory `stateDir`) uses `img`, if the image is
   * still there with all its layers: under the store lock, so that a
   * concurrent rmi either sees the use or removed the image first (then
   * this throws). From then on gc keeps its layers.
   */
  claim(img: StoredImage, dir: string, stateDir: string): string[] {
    return this.files.withLock(() => {
      const rec = this.get(img.configDigest);
      if (!rec) throw new TcrError(`image ${img.names[0] ?? img.configDigest.slice(7, 19)} was removed while the container was being made`);
      const dirs = this.layerDirs(rec);
      writeImageUse(dir, { image: rec.configDigest, layers: rec.diffIds, state: stateDir });
      return dirs;
    });
  }

  private resolveName(input: string): string | undefined {
    const img = this.resolve(input);
    if (!img) return undefined;
    const { ref, short } = parseRegistryRef(input);
    return candidates(ref, short, [...searchRegistries(), 'localhost'])
      .map(formatRef)
      .find((n) => img.names.includes(n));
  }

  /**
   * Deletes what no image uses: layers, blobs and leftovers in tmp/ of
   * imports that crashed. Skipped (returns null) while an import runs, since
   * its layers are not in the index yet.
   */
  gc(): { layers: number; blobs: number; tmp: number } | null {
    const release = this.files.tryCollect();
    if (!release) return null;
    try {
      const images = this.list();
      // a container's layers stay while it exists, whether or not an image still names them
      const used = [...images.flatMap((i) => i.diffIds), ...readImageUses(this.root).flatMap((u) => (u.live ? u.layers : []))];
      const layers = new Set(used.map((d) => d.slice(7)));
      const blobs = new Set(images.flatMap((i) => [i.manifestDigest.slice(7), i.configDigest.slice(7)]));
      const result = { layers: 0, blobs: 0, tmp: 0 };
      const layerRoot = path.join(this.root, 'layers', 'sha256');
      for (const hex of fs.readdirSync(layerRoot)) {
        if (layers.has(hex)) continue;
        this.files.removeDir(path.join(layerRoot, hex));
        result.layers++;
      }
      const blobRoot = path.join(this.root, 'blobs', 'sha256');
      for (const hex of fs.readdirSync(blobRoot)) {
        if (blobs.has(hex)) continue;
        fs.rmSync(path.join(blobRoot, hex), { force: true });
        result.blobs++;
      }
      // we hold the gc lock exclusively: no import is running, so all of tmp/ is debris
      for (const t of fs.readdirSync(this.files.tmpDir)) {
        fs.rmSync(path.join(this.files.tmpDir, t), { recursive: true, force: true });
        result.tmp++;
      }
      return result;
    } finally {
      release();
    }
  }

  /** A fresh path in the store's staging area (same filesystem; collected by gc after a crash). */
  stagingPath(prefix: string): string {
    this.files.init();
    return path.join(this.files.tmpDir, `${prefix}-${process.pid}-${Math.random().toString(36).slice(2)}`);
  }

  /** Holds off garbage collection while an import runs; call the result when done. */
  beginImport(): () => void {
    return this.files.holdImport();
  }

  /** After a failed import: drop the layers it made that no image uses (unless another import runs). */
  discardLayers(diffIds: string[]): void {
    const release = this.files.tryCollect();
    if (!release) return;
    try {
      const used = new Set([
        ...this.list().flatMap((i) => i.diffIds),
        ...readImageUses(this.root).flatMap((u) => (u.live ? u.layers : [])),
      ]);
      for (const d of diffIds) if (!used.has(d)) this.files.removeDir(this.files.layerPath(d));
    } finally {
      release();
    }
  }
}
