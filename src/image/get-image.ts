// The image for `tcr run IMAGE`: the store first, then a pull or an import.
// The pulling side (registry client, unpacker, tar-stream) is imported only
// when the store does not have the image, so a run of a present image does
// not load it.
import { TcrError } from '../errors.js';
import type { PullOptions } from './pull.js';
import { parseImageRef } from './reference.js';
import type { ImageStore } from './store.js';
import type { StoredImage } from './types.js';

export type PullPolicy = 'missing' | 'always' | 'never';

/**
 * A registry name is looked up in the store first (pulled when missing,
 * unless policy says otherwise); a layout or archive is imported (layers
 * already in the store are not unpacked again).
 */
export async function getImage(store: ImageStore, input: string, opts: PullOptions & { pull?: PullPolicy } = {}): Promise<StoredImage> {
  const policy = opts.pull ?? 'missing';
  const r = parseImageRef(input);
  if (r.transport === 'docker' && policy !== 'always') {
    const found = store.resolve(input);
    if (found) return found;
  }
  if (r.transport === 'docker' && policy === 'never') throw new TcrError(`image ${input} is not in the image store ${store.root} (and --pull=never)`);
  if (r.transport === 'docker' && /^[a-f0-9]{12,64}$/.test(input) && !store.resolve(input)) {
    // looks like an image id: pulling "library/<id>" would only confuse
    throw new TcrError(`image ${input} is not in the image store ${store.root}`);
  }
  const { pullImage } = await import('./pull.js');
  const imgs = await pullImage(store, input, opts);
  return imgs[0];
}
