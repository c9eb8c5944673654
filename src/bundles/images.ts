// Everything of the image side that the CLI reaches for, as one module: it is
// bundled apart (dist/tcr-images.cjs) and loaded only by image commands, so
// the lifecycle commands runc's callers use do not pay for loading it.
// Within it, the pulling and unpacking side (registry, archives, tar-stream)
// is imported on first call, so `tcr run` of an image already in the store
// does not initialise it either.
import type { OpenedSource } from '../image/archive.js';
import type { PullOptions } from '../image/pull.js';
import type { ImageStore } from '../image/store.js';
import type { StoredImage } from '../image/types.js';

export { ImageStore, defaultStoreRoot } from '../image/store.js';
export { humanSize, makeProgress } from '../image/progress.js';
export { normalizeName, splitName } from '../image/reference.js';
export { parsePlatform } from '../image/platform.js';
export { containerDir, logFile, removeLeftover, runImage } from '../run/image-run.js';
export { monitor } from '../run/monitor.js';
export { logQuery, printLogs } from '../run/log-reader.js';
export { healthStatus } from '../run/health.js';
export { attachOutput, attachPoint, isImageContainer, openAttach, startImageContainer } from '../run/image-start.js';
export { monitorAlive, monitorView, readLaunchFile, readRestartCount, requestStop } from '../run/monitor-files.js';
export { inspectContainer, portLines, publishedPorts, runNote } from '../run/inspect.js';
export { unpackImage } from '../run/unpack-image.js';
export { renameContainer } from '../run/rename.js';
export { readImageUses } from '../image/image-users.js';
export { runAsMappedRoot } from '../image/userns-exec.js';

export async function pullImage(store: ImageStore, input: string, opts?: PullOptions): Promise<StoredImage[]> {
  return (await import('../image/pull.js')).pullImage(store, input, opts);
}

export async function importOpened(store: ImageStore, opened: OpenedSource, opts?: PullOptions): Promise<StoredImage[]> {
  return (await import('../image/pull.js')).importOpened(store, opened, opts);
}

export async function openLocalSource(
  input: string,
  opts?: Parameters<typeof import('../image/pull.js').openLocalSource>[1],
): Promise<OpenedSource> {
  return (await import('../image/pull.js')).openLocalSource(input, opts);
}

export async function openArchive(
  file: string,
  opts?: Parameters<typeof import('../image/archive.js').openArchive>[1],
): Promise<OpenedSource> {
  return (await import('../image/archive.js')).openArchive(file, opts);
}

type Transfer = typeof import('../image/transfer.js');

export async function copyFiles(...a: Parameters<Transfer['copyFiles']>): ReturnType<Transfer['copyFiles']> {
  return (await import('../image/transfer.js')).copyFiles(...a);
}

export async function exportContainer(...a: Parameters<Transfer['exportContainer']>): ReturnType<Transfer['exportContainer']> {
  return (await import('../image/transfer.js')).exportContainer(...a);
}

export async function saveImages(...a: Parameters<Transfer['saveImages']>): ReturnType<Transfer['saveImages']> {
  return (await import('../image/transfer.js')).saveImages(...a);
}

export async function pushImage(...a: Parameters<Transfer['pushImage']>): Promise<Awaited<ReturnType<Transfer['pushImage']>>> {
  return (await import('../image/transfer.js')).pushImage(...a);
}

export async function login(...a: Parameters<Transfer['login']>): Promise<Awaited<ReturnType<Transfer['login']>>> {
  return (await import('../image/transfer.js')).login(...a);
}

export async function logout(...a: Parameters<Transfer['logout']>): Promise<Awaited<ReturnType<Transfer['logout']>>> {
  return (await import('../image/transfer.js')).logout(...a);
}
