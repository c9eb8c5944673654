// A program's path on $PATH, as runc and execvp look it up: the first
// directory holding an executable file of that name.
import fs from 'node:fs';
import path from 'node:path';

export function findOnPath(program: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const p = path.join(dir, program);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
