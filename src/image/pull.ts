// One entry point from "whatever the user typed" to images in the store:
// registry references (short names tried on each search registry in turn),
// oci:DIR[:TAG], oci-archive:FILE[:TAG] and docker-archive:FILE[:REF].
import { TcrError, errorMessage } from '../errors.js';
import { verifyBuffer } from './digest.js';
import { openArchive, openLayoutDir, type OpenedSource } from './archive.js';
import { importImages, prepareImage, resolveManifest, type ImportOptions } from './import.js';
import { hostPlatform } from './platform.js';
import { candidates, formatRef, parseImageRef, repoName, type RegistryRef } from './reference.js';
import { NotFoundError, RegistryClient, TransientError, type RegistryOptions } from './registry.js';
import type { ImageStore } from './store.js';
import type { StoredImage } from './types.js';

export interface PullOptions extends ImportOptions {
  registry?: RegistryOptions;
  /** names to give the image(s), instead of the source's own (tcr import DIR NAME) */
  names?: string[];
}

/** Pulls one image from a registry into the store. */
export async function pullFromRegistry(store: ImageStore, ref: RegistryRef, opts: PullOptions = {}): Promise<StoredImage> {
  const progress = opts.progress;
  const client = new RegistryClient(ref.registry, {
    attempts: opts.attempts,
    backoff: opts.backoff,
    notify: progress ? (t) => progress.note(t) : undefined,
    ...opts.registry,
  });
  const top = await client.getManifest(ref.repository, ref.digest ?? ref.tag ?? 'latest');
  // the reference's digest names exactly these bytes (an index or a manifest)
  if (ref.digest) verifyBuffer(top.bytes, { digest: ref.digest }, `manifest of ${formatRef(ref)}`);
  const source = client.source(ref.repository);
  const what = formatRef(ref);
  opts.progress?.note(`Pulling ${what}`);
  const platform = opts.platform ?? hostPlatform();
  const m = await resolveManifest(source, top.bytes, what, platform);
  const names = opts.names ?? (ref.tag ? [`${repoName(ref)}:${ref.tag}`] : []);
  const prepared = await prepareImage(source, m.bytes, {
    names,
    repoDigests: [`${repoName(ref)}@${top.digest}`],
    what,
    platform,
    attempts: opts.attempts,
    backoff: opts.backoff,
  });
  const [img] = await importImages(store, source, [prepared], opts);
  opts.progress?.note(`Digest: ${top.digest}`);
  return img;
}

/** Opens a non-registry source (layout dir or archive). */
export async function openLocalSource(
  input: string,
  opts: { all?: boolean; platform?: PullOptions['platform'] } = {},
): Promise<OpenedSource> {
  const r = parseImageRef(input);
  switch (r.transport) {
    case 'oci':
      return openLayoutDir(r.path, { tag: r.tag, all: opts.all, platform: opts.platform });
    case 'oci-archive':
      return openArchive(r.path, { format: 'oci-archive', tag: r.tag, all: opts.all, platform: opts.platform });
    case 'docker-archive':
      return openArchive(r.path, { format: 'docker-archive', ref: r.ref, all: opts.all, platform: opts.platform });
    default:
      throw new TcrError(`${input}: not a local image source`);
  }
}

/** Imports every image an opened source offers (or the one it was narrowed to). */
export async function importOpened(store: ImageStore, opened: OpenedSource, opts: PullOptions = {}): Promise<StoredImage[]> {
  if (opts.names) for (const img of opened.images) img.names = opts.names;
  return importImages(store, opened.source, opened.images, opts);
}

/**
 * `tcr pull`: any reference into the store. A short name is tried on each
 * search registry until one has it; errors of every try are reported.
 */
export async function pullImage(store: ImageStore, input: string, opts: PullOptions = {}): Promise<StoredImage[]> {
  const r = parseImageRef(input);
  if (r.transport !== 'docker') return importOpened(store, await openLocalSource(input, { platform: opts.platform }), opts);
  const tries = candidates(r.ref, r.short);
  const errors: string[] = [];
  for (const ref of tries) {
    try {
      return [await pullFromRegistry(store, ref, opts)];
    } catch (e) {
      // only "not there" and "not reachable" move on to the next search registry
      if (tries.length === 1 || !(e instanceof NotFoundError || e instanceof TransientError)) throw e;
      errors.push(`${formatRef(ref)}: ${errorMessage(e)}`);
    }
  }
  throw new TcrError(`image ${input} was not found on any search registry:\n  ${errors.join('\n  ')}`);
}
