// The fetching and unpacking half of the image side (registry, archives,
// tar-stream, the layer unpacker), bundled apart as dist/tcr-pull.cjs: the
// image bundle's dynamic imports of these modules load it, so `tcr run` of
// an image already in the store never compiles it (scripts/bundle.mjs).
export { importOpened, openLocalSource, pullImage } from '../image/pull.js';
export { openArchive } from '../image/archive.js';
export { flattenLayers } from '../image/flatten.js';
export { unpackLayer } from '../image/unpack.js';
export * from '../image/transfer.js';
