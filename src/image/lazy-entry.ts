// Everything of the image side that the CLI reaches for, as one module: it is
// bundled apart (dist/tcr-images.cjs) and loaded only by image commands, so
// the lifecycle commands runc's callers use do not pay for loading it.
export { ImageStore, defaultStoreRoot } from './store.js';
export { humanSize, makeProgress } from './progress.js';
export { normalizeName, splitName } from './reference.js';
export { parsePlatform } from './platform.js';
export { importOpened, openLocalSource, pullImage } from './pull.js';
export { openArchive } from './archive.js';
export { flattenLayers } from './unpack.js';
export { logFile, runImage } from '../run/image-run.js';
