// The store keeps layers unpacked, in overlay form (layers/sha256/HEX/diff),
// not the tars they came in. save and push need tars again: this writes one
// from a layer directory (whiteouts and opaque directories back into their
// .wh. entries, tree-pack.ts), deterministically (names sorted, times and
// owners as stored), so a layer gives the same tar, and digest, each time.
// It is not the original tar, so its digest is not the original diffID: the
// image config that goes with it names the new ones.
import crypto from 'node:crypto';
import fs from 'node:fs';
import tar from 'tar-stream';
import { O_PATH } from '../sys/openat2.js';
import { TreePacker } from './tree-pack.js';

export interface LayerTar {
  file: string;
  /** sha256 of the tar: its diffID, and its digest as an uncompressed blob */
  digest: string;
  size: number;
}

/** Writes the tar of `layerDir` to `file` (new). */
export async function writeLayerTar(layerDir: string, file: string): Promise<LayerTar> {
  const pack = tar.pack();
  const dirfd = fs.openSync(layerDir, O_PATH | fs.constants.O_DIRECTORY);
  const packing = new TreePacker(pack, { layerRoot: layerDir })
    .children(dirfd, '')
    .finally(() => fs.closeSync(dirfd))
    .then(
      () => pack.finalize(),
      (e: unknown) => pack.destroy(e as Error),
    );
  const out = fs.openSync(file, 'wx', 0o600);
  const hash = crypto.createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of pack as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      let off = 0;
      while (off < chunk.length) off += fs.writeSync(out, chunk, off, chunk.length - off);
    }
    await packing;
  } finally {
    fs.closeSync(out);
  }
  return { file, digest: `sha256:${hash.digest('hex')}`, size };
}
