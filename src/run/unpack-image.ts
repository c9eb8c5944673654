// `tcr unpack IMAGE DIR`: an image as a runc bundle, as `umoci unpack` makes
// one. DIR/rootfs is the image flattened (what a container of it sees) and
// DIR/config.json is what `tcr run IMAGE` would run: the same buildImageSpec,
// with the root at DIR/rootfs and nothing of the store in it (no overlay,
// no container directory), so the bundle stands on its own.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { getImage, type PullPolicy } from '../image/get-image.js';
import type { PullOptions } from '../image/pull.js';
import { parseImageRef } from '../image/reference.js';
import { ImageStore } from '../image/store.js';
import { buildImageSpec } from './image-spec.js';
import { commitStage, makeStage, removeOnSignal, targetState } from './stage-dir.js';
import { NO_NETWORK, type ImageRunOptions } from './options.js';

export interface UnpackImageOptions extends PullOptions {
  /** for a registry name: when to pull it into the store (default: when missing, as `tcr run`) */
  pull?: PullPolicy;
  /** remove the half-built bundle on SIGINT, SIGTERM or SIGHUP, then die of the signal (the CLI's choice; a library caller may have its own handlers) */
  cleanupOnSignal?: boolean;
}

/** `tcr run IMAGE`'s options when no flag is given, as its CLI defaults them. */
export function defaultRunOptions(image: string, hostname: string): ImageRunOptions {
  return {
    image,
    command: [],
    hostname,
    env: [],
    envFiles: [],
    volumes: [],
    mounts: [],
    tmpfs: [],
    capAdd: [],
    capDrop: [],
    securityOpt: [],
    ...NO_NETWORK,
  };
}

/** The bundle's host name: `tcr run` takes the container's id, which a bundle does not have yet; its directory's name stands in. */
export function bundleHostname(dir: string): string {
  const name = path
    .basename(path.resolve(dir))
    .replace(/[^A-Za-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63)
    .replace(/-+$/, '');
  return name || 'tcr';
}

/**
 * Writes the bundle of `image` into `dir` (missing or empty). It is built in
 * a hidden sibling of dir and renamed into place whole: a failed unpack
 * leaves no dir, and a dir that holds anything is never written.
 */
export async function unpackImage(store: ImageStore, image: string, dir: string, opts: UnpackImageOptions = {}): Promise<void> {
  const target = path.resolve(dir);
  const existing = targetState(dir, target);
  const ref = parseImageRef(image); // a bad reference fails before anything is made
  const stage = makeStage(dir, target);
  const release = opts.cleanupOnSignal ? removeOnSignal(stage) : () => {};
  let holdStore = (): void => {};
  try {
    // A registry name comes from the store (pulled when missing), as for
    // `tcr run`. A layout or an archive is imported into a store of its own
    // inside the stage: unpacking it writes nothing but the bundle.
    const from = ref.transport === 'docker' ? store : new ImageStore({ root: path.join(stage, 'store') });
    const img = await getImage(from, image, opts);
    // holds off the store's garbage collection: a `tcr rmi` meanwhile must not delete the layers being copied
    holdStore = from.beginImport();
    const layers = from.layerDirs(img);
    const hostname = bundleHostname(target);
    // before the rootfs is copied, so that a bad User fails early; /etc/passwd is read from the layers, as for `tcr run`
    const spec = buildImageSpec(defaultRunOptions(image, hostname), {
      id: hostname,
      rootfs: 'rootfs',
      config: from.config(img),
      lookupRoot: [...layers].reverse(),
      commandOptional: true,
      userMounts: [],
    });
    if (spec.process!.args!.length === 0)
      log.warn(`${image} has no Entrypoint or Cmd: set process.args in ${path.join(dir, 'config.json')} before running the bundle`);
    const { flattenLayers } = await import('../image/flatten.js');
    // hard links to a lower layer's file are copies in the store's overlay form; in the rootfs they are links again
    flattenLayers(layers, path.join(stage, 'rootfs'), { lowerLinks: img.diffIds.map((d) => from.layerLinks(d)) });
    holdStore();
    fs.writeFileSync(path.join(stage, 'config.json'), JSON.stringify(spec, null, 2) + '\n', { mode: 0o644 });
    if (from !== store) fs.rmSync(from.root, { recursive: true, force: true });
    // a signal that came during the (synchronous) copy is handled here, before the bundle appears
    await new Promise((r) => setImmediate(r));
    commitStage(stage, target, dir, existing);
  } catch (e) {
    fs.rmSync(stage, { recursive: true, force: true });
    throw new TcrError(`unpacking ${image} into ${dir}: ${errorMessage(e)}`, 1, { cause: e });
  } finally {
    holdStore();
    release();
  }
}
