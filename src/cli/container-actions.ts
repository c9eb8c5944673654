// What runc's commands on a recorded container (start, state, kill, delete,
// and list) do, given the parsed global options, positionals and options:
// the same whether commander parsed them (src/cli/lifecycle.ts) or the fast
// path (src/cli/fast-path.ts) did, in the full CLI's bundle or the engine's
// (src/cli/engine.ts). Nothing here loads the launch path, the image side or
// commander.
import fs from 'node:fs';
import path from 'node:path';
import { defaultStoreRoot } from '../image/store-files.js';
import { RecordedContainers } from '../container/recorded.js';
import { StateStore } from '../container/state-store.js';
import { TcrError } from '../errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './command-line.js';
import { table } from './table.js';

export interface StartFlags {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

const recorded = (g: GlobalOptions) => new RecordedContainers(new StateStore(g.root));

/**
 * Whether `start ID` is docker's start of a stopped container of `tcr run` or
 * `create IMAGE` (src/cli/image-start-command.ts), not runc's start of a created one.
 */
export function startsImage(g: GlobalOptions, id: string): boolean {
  if (recorded(g).container(id).status() === 'created') return false;
  return fs.existsSync(path.join(g.store ?? defaultStoreRoot(), 'containers', id, 'launch.json'));
}

export const containerActions = {
  list(g: GlobalOptions, _args: string[], o: { format: string; quiet?: boolean }): void {
    const list = recorded(g).list();
    if (o.quiet) return out(list.map((s) => s.id + '\n').join(''));
    if (o.format === 'json') return out(JSON.stringify(list) + '\n');
    if (o.format !== 'table') throw new TcrError(`--format: ${JSON.stringify(o.format)} is neither table nor json`);
    const rows = [
      ['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'],
      ...list.map((s) => [s.id, String(s.pid), s.status, s.bundle, String(s.created), String(s.owner)]),
    ];
    out(table(rows, 12));
  },
  /** runc's start of a created container (one that `startsImage` does not take) */
  start(g: GlobalOptions, [id]: string[], o: StartFlags = {}): void {
    if (o.attach || o.interactive)
      throw new TcrError(`start ${o.attach ? '-a' : '-i'}: ${id} is not a container of tcr run or create IMAGE`);
    recorded(g).container(id).start({ closeAtExit: true }); // its program runs only once this command has exited
  },
  state(g: GlobalOptions, [id]: string[]): void {
    out(JSON.stringify(recorded(g).container(id).state(), null, '  ') + '\n');
  },
  kill(g: GlobalOptions, [id, signal]: string[], o: { all?: boolean; signal?: string }): void {
    if (signal !== undefined && o.signal !== undefined && signal !== o.signal)
      throw new TcrError(`kill: the signal is given twice (${o.signal} and ${signal}): give one`);
    const c = recorded(g).container(id);
    // runc's default is SIGTERM; docker kill's, for the containers of `tcr run IMAGE`, SIGKILL, and it names what it killed
    const image = c.record().annotations?.['dev.tcr.image'] !== undefined;
    c.kill(signal ?? o.signal ?? (image ? 'SIGKILL' : 'SIGTERM'), !!o.all);
    if (image) out(`${id}\n`);
  },
  async delete(g: GlobalOptions, ids: string[], o: { force?: boolean }): Promise<void> {
    const rc = recorded(g);
    for (const id of ids) {
      if (o.force && !rc.store.exists(id) && !rc.store.ids().includes(id)) continue; // runc: force ignores missing
      await rc.container(id).delete(!!o.force);
    }
  },
};
