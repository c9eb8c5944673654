// Which containers use which image. Every `tcr run IMAGE` container has a
// directory ROOT/containers/ID in the store (its bundle, overlay upper dir,
// log) from before its root is mounted until `tcr rm`; an image.json there
// names the image and the layers its overlay stacks. rmi reads these to
// refuse removing an image a container uses, and gc to keep every layer any
// container mounts, even of an image that was untagged (rmi -f) meanwhile.
// A use is live while the container's state exists, or since it was
// recorded in this boot (its state may not be made yet): after a reboot
// empties /run/tcr, a leftover directory pins nothing (tcr rm removes it).
import fs from 'node:fs';
import path from 'node:path';
import { errnoCode } from '../errors.js';
import { writeAtomic } from './store-files.js';
import type { StoredImage } from './types.js';

export interface ImageUse {
  /** the container id (its directory's name) */
  container: string;
  /** the image's config digest (its id) */
  image: string;
  /** the diffIDs the container's root is stacked from */
  layers: string[];
  /** the container still exists, or is being made */
  live: boolean;
}

function bootId(): string {
  try {
    return fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '';
  }
}

const USE_FILE = 'image.json';

export function containersRoot(storeRoot: string): string {
  return path.join(storeRoot, 'containers');
}

/** Records that the container whose directory is `dir` (and state directory `state`) uses this image and these layers. */
export function writeImageUse(dir: string, use: { image: string; layers: string[]; state: string }): void {
  writeAtomic(path.join(dir, USE_FILE), JSON.stringify({ ...use, boot: bootId() }) + '\n', 0o600);
}

/**
 * Every recorded use. A container directory whose record cannot be read is
 * one being made (its record comes before its root is mounted) or damaged:
 * it uses nothing yet, or nothing tcr can name.
 */
export function readImageUses(storeRoot: string): ImageUse[] {
  let names: string[];
  try {
    names = fs.readdirSync(containersRoot(storeRoot));
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    throw e;
  }
  const uses: ImageUse[] = [];
  const boot = bootId();
  for (const container of names) {
    let rec: { image?: unknown; layers?: unknown; state?: unknown; boot?: unknown };
    try {
      rec = JSON.parse(fs.readFileSync(path.join(containersRoot(storeRoot), container, USE_FILE), 'utf8')) as typeof rec;
    } catch {
      continue;
    }
    if (typeof rec.image !== 'string' || !Array.isArray(rec.layers)) continue;
    const live = rec.boot === boot || typeof rec.state !== 'string' || fs.existsSync(rec.state);
    uses.push({ container, image: rec.image, layers: rec.layers.filter((l): l is string => typeof l === 'string'), live });
  }
  return uses;
}

/** rmi of an image a container uses: docker's refusal, naming the container and the ways out. */
export function inUseMessage(img: StoredImage, users: string[]): string {
  const label = img.names[0] ?? img.configDigest.slice(7, 19);
  const who = `container ${users[0]}${users.length > 1 ? ` (and ${users.length - 1} more: ${users.slice(1).join(', ')})` : ''}`;
  if (!img.names.length)
    return `image ${label} has no names left and is in use by ${who}: it can be removed once ${users.length > 1 ? 'they are' : 'that is'} (tcr rm -f ${users.join(' ')})`;
  return `image ${label} (${img.configDigest.slice(7, 19)}) is in use by ${who}: remove ${users.length > 1 ? 'them' : 'it'} first (tcr rm -f ${users.join(' ')}), or untag the image with rmi -f`;
}
