// The image for `tcr run IMAGE`: the store first, then a pull or an import.
// The pulling side (registry client, unpacker, tar-stream) is imported only
// when the store does not have the image, so a run of a present image does
// not load it.
import { TcrError } from '../errors.js';
import { tcrLoader } from '../sys/package-root.js';
import { extraCaCertsNotLoaded } from './extra-ca.js';
import { formatPlatform, type Platform } from './platform.js';
import { quietProgress } from './progress.js';
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
    const other = found && opts.platform ? otherPlatform(store, found, opts.platform) : undefined;
    if (found && !other) return found;
    // docker's rule: a stored image of another platform than --platform asks for is pulled again for that one
    if (other && policy === 'never')
      throw new TcrError(
        `image ${input} in the store is for ${other}, not for --platform ${formatPlatform(opts.platform)} (and --pull=never)`,
      );
  }
  if (r.transport === 'docker' && policy === 'never')
    throw new TcrError(`image ${input} is not in the image store ${store.root} (and --pull=never)`);
  if (r.transport === 'docker' && /^[a-f0-9]{12,64}$/.test(input) && !store.resolve(input)) {
    // looks like an image id: pulling "library/<id>" would only confuse
    throw new TcrError(`image ${input} is not in the image store ${store.root}`);
  }
  if (r.transport === 'docker' && extraCaCertsNotLoaded() !== undefined) return pullInChild(store, input, opts);
  const { pullImage } = await import('./pull.js');
  const imgs = await pullImage(store, input, opts);
  return imgs[0];
}

/**
 * `tcr pull` in a child node that loads NODE_EXTRA_CA_CERTS, which this one
 * was started without (src/image/extra-ca.ts). Its progress goes to stderr,
 * as an in-process pull's does; its stdout (the image id) is dropped: a run's
 * stdout is its container's.
 */
async function pullInChild(store: ImageStore, input: string, opts: PullOptions): Promise<StoredImage> {
  const { spawn } = await import('node:child_process');
  const args = [
    tcrLoader(),
    '--store',
    store.root,
    'pull',
    ...(opts.platform ? ['--platform', formatPlatform(opts.platform)] : []),
    ...(opts.progress && opts.progress !== quietProgress ? [] : ['--quiet']),
    input,
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 2] });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c, s) => resolve([c, s]));
  });
  if (code !== 0)
    throw new TcrError(
      `image ${input}: \`tcr pull\` ${signal ? `was killed by ${signal}` : `exited with status ${code}`} (its errors are above)`,
    );
  const img = store.resolve(input);
  if (!img) throw new TcrError(`image ${input}: \`tcr pull\` succeeded but the image store ${store.root} does not have it`);
  return img;
}

/** The platform of a stored image when it is not `want` (os, architecture, and variant when both name one). */
function otherPlatform(store: ImageStore, img: StoredImage, want: Platform): string | undefined {
  const c = store.config(img) as { os?: string; architecture?: string; variant?: string };
  const same = c.os === want.os && c.architecture === want.architecture && (!want.variant || !c.variant || c.variant === want.variant);
  return same ? undefined : formatPlatform({ os: c.os ?? '?', architecture: c.architecture ?? '?', variant: c.variant });
}
