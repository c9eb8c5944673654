// Where tcr is installed: the directory holding bin/, build/ and dist/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * Found from this module's place: dist/tcr.cjs and dist/tcr-images.cjs
 * (esbuild bundles) sit one level below the root, dist/sys/package-root.js
 * (tsc output, as the tests import it) two.
 */
export function packageRoot(): string {
  if (root === undefined) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const candidates = [path.join(here, '..'), path.join(here, '..', '..')];
    root = candidates.find((c) => fs.existsSync(path.join(c, 'package.json'))) ?? candidates[1];
  }
  return root;
}

/** The CLI's loader, which a child tcr process runs with `process.execPath` (not bin/tcr: no shell in between). */
export function tcrLoader(): string {
  return path.join(packageRoot(), 'bin', 'tcr.cjs');
}
