// What compose prints as it works (docker compose's " ✔ Container x  Started"
// lines, on stderr so stdout stays the commands' own output), and the
// stop-then-remove that down, scale-down and recreate share.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { tcr, type Globals } from './tcr-child.js';

export function progress(kind: 'Network' | 'Volume' | 'Container', name: string, what: string): void {
  fs.writeSync(2, ` ✔ ${kind} ${name}  ${what}\n`);
}

/** `tcr stop -t T` then `tcr rm -f [-v]`; a container already gone is not an error. */
export async function stopAndRemove(g: Globals, ids: string[], timeout: number | undefined, volumes: boolean): Promise<void> {
  if (!ids.length) return;
  // stopped together, so the grace periods overlap as docker compose's do
  await Promise.all(
    ids.map((id) => tcr(g, ['stop', '-t', String(Math.ceil(timeout ?? 10)), id]).then(() => progress('Container', id, 'Stopped'))),
  );
  for (const id of ids) {
    const r = await tcr(g, ['rm', '-f', ...(volumes ? ['-v'] : []), id]);
    if (r.code !== 0 && !/does not exist/.test(r.stderr)) throw new TcrError(`container ${id}: ${r.stderr.trim()}`);
    progress('Container', id, 'Removed');
  }
}
