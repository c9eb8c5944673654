// rm -rf without fs.rmSync: the recursive form of rmSync loads Node's
// internal rimraf module on first use, one more module for every `tcr delete`.
// Symlinks are removed, never followed. Names are handled as bytes: a
// container's upper layer can hold names that are not UTF-8.
import fs from 'node:fs';
import { errnoCode } from '../errors.js';
import { removeAsMappedRoot } from '../container/mapped-root.js';

const SLASH = Buffer.from('/');

/**
 * Removes a file or a directory tree; a missing path is not an error. An
 * ordinary user's tree may hold files of their subordinate ids (a container's
 * upper layer, an image layer): what they may not remove, root of their user
 * namespace removes (src/container/mapped-root.ts).
 */
export function removeTree(p: string | Buffer): void {
  try {
    removeAll(p);
  } catch (e) {
    const code = errnoCode(e);
    if ((process.geteuid?.() ?? 0) === 0 || (code !== 'EACCES' && code !== 'EPERM') || process.env.TCR_USERNS_UNPACK === '1') throw e;
    removeAsMappedRoot(p.toString());
  }
}

function removeAll(p: string | Buffer): void {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  if (!st.isDirectory()) {
    unlinkQuiet(p);
    return;
  }
  const dir = Buffer.isBuffer(p) ? p : Buffer.from(p);
  for (const name of fs.readdirSync(dir, { encoding: 'buffer' })) removeAll(Buffer.concat([dir, SLASH, name]));
  try {
    fs.rmdirSync(p);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}

/** unlink(2), with a file already gone not an error. */
export function unlinkQuiet(p: string | Buffer): void {
  try {
    fs.unlinkSync(p);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
}
