// `tcr volume create|ls|rm|inspect|prune`: docker's volume commands over the
// volumes of src/volumes/store.ts (kept in the image store). Like docker's,
// they exit 125 when they fail.
import type { Command } from 'commander';
import fs from 'node:fs';
import { TcrError, errorMessage } from '../errors.js';
import { dockerExit } from './cli-errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { table } from './table.js';

async function volumesOf(cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const { defaultStoreRoot } = await import('../image/store.js');
  const { VolumeStore } = await import('../volumes/store.js');
  return new VolumeStore(g.store ?? defaultStoreRoot());
}

/** --label KEY=VALUE (or KEY: an empty value, as docker reads it). */
export function parseLabels(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const i = l.indexOf('=');
    const key = i < 0 ? l : l.slice(0, i);
    if (!key) throw new TcrError(`--label ${JSON.stringify(l)}: no label name (give KEY=VALUE)`);
    out[key] = i < 0 ? '' : l.slice(i + 1);
  }
  return out;
}

/** docker's prune asks first; without a terminal to answer on, it needs -f. */
function confirmed(question: string): boolean {
  if (!process.stdin.isTTY) throw new TcrError('volume prune: no terminal to confirm on: give -f/--force');
  fs.writeSync(2, `${question} [y/N] `);
  const buf = Buffer.alloc(64);
  const n = fs.readSync(0, buf, 0, buf.length, null);
  return /^y(es)?$/i.test(buf.subarray(0, n).toString().trim());
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('manage volumes: create, ls, rm, inspect, prune');

  volume
    .command('create')
    .description('create a volume (a random name when none is given); an existing one is left as it is')
    .argument('[name]')
    .option('--label <key=value>', 'set a label (repeatable)', collect, [])
    .option('-d, --driver <driver>', 'local, the only driver', 'local')
    .action(
      dockerExit(async (name: string | undefined, o: { label: string[]; driver: string }, cmd: Command) => {
        if (o.driver !== 'local') throw new TcrError(`--driver ${o.driver}: only the local driver is supported`);
        const vs = await volumesOf(cmd);
        out(`${vs.create(name, { labels: parseLabels(o.label) }).name}\n`);
      }),
    );

  volume
    .command('ls')
    .alias('list')
    .description('list volumes')
    .option('-q, --quiet', 'print only the names')
    .action(
      dockerExit(async (o: { quiet?: boolean }, cmd: Command) => {
        const list = (await volumesOf(cmd)).list();
        if (o.quiet) return out(list.map((v) => `${v.name}\n`).join(''));
        out(table([['DRIVER', 'VOLUME NAME'], ...list.map((v) => ['local', v.name])]));
      }),
    );

  volume
    .command('inspect')
    .description('print volumes as JSON')
    .argument('<name...>')
    .action(
      dockerExit(async (names: string[], _o: unknown, cmd: Command) => {
        const vs = await volumesOf(cmd);
        const list = names.map((n) => {
          const v = vs.require(n);
          return {
            CreatedAt: v.createdAt,
            Driver: 'local',
            Labels: v.labels,
            Mountpoint: vs.dataDir(v.name),
            Name: v.name,
            Options: {},
            Scope: 'local',
            Anonymous: v.anonymous,
            UsedBy: vs.users(v.name),
          };
        });
        out(JSON.stringify(list, null, 2) + '\n');
      }),
    );

  volume
    .command('rm')
    .alias('remove')
    .description('remove volumes that no container (running or stopped) uses')
    .argument('<name...>')
    .option('-f, --force', 'no error for a volume that does not exist (one in use is still refused)')
    .action(
      dockerExit(async (names: string[], o: { force?: boolean }, cmd: Command) => {
        const vs = await volumesOf(cmd);
        const failed: string[] = [];
        for (const n of names) {
          try {
            if (vs.remove(n, { force: o.force })) out(`${n}\n`);
          } catch (e) {
            failed.push(errorMessage(e));
          }
        }
        // each name is tried, as docker tries them; the refusals are reported together
        if (failed.length) throw new TcrError(failed.join('\n'));
      }),
    );

  volume
    .command('prune')
    .description('remove the anonymous volumes no container uses (-a: every unused volume)')
    .option('-f, --force', 'do not ask for confirmation')
    .option('-a, --all', 'named volumes too')
    .action(
      dockerExit(async (o: { force?: boolean; all?: boolean }, cmd: Command) => {
        const vs = await volumesOf(cmd);
        const what = o.all ? 'all local volumes' : 'all anonymous local volumes';
        if (
          !o.force &&
          !confirmed(`WARNING! This will remove ${what} not used by at least one container.\nAre you sure you want to continue?`)
        )
          return;
        const gone = vs.prune(!!o.all);
        out(gone.length ? `Deleted Volumes:\n${gone.map((n) => `${n}\n`).join('')}` : '');
      }),
    );
}
