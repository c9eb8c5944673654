// Integration tests run bin/tcr, which runs dist/tcr.cjs: rebuild the
// bundle first when any source file is newer, so tests never run stale code.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newest(dir: string): number {
  let t = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : fs.statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  const bundle = path.join(repo, 'dist', 'tcr.cjs');
  const built = fs.statSync(bundle, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  if (newest(path.join(repo, 'src')) > built)
    execFileSync(process.execPath, [path.join(repo, 'scripts', 'bundle.mjs')], { cwd: repo, stdio: 'inherit' });
}
