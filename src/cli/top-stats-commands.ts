// docker's `top` (the host's ps, cut to a container's processes, in docker's
// table) and `stats` (CPU, memory, network, block I/O and pids of running
// containers: a table every second until interrupted, redrawn in place on a
// terminal, as podman and docker print it; one table with --no-stream).
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import tty from 'node:tty';
import { Runtime } from '../container/runtime.js';
import { TcrError } from '../errors.js';
import { dockerExit } from './cli-errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { table } from './table.js';
import { renderList } from './list-format.js';
import { DEFAULT_STATS_TABLE, STATS_HEADERS, netCounters, statsFields, systemCpuNs, type Sample } from './stats-view.js';

function runtimeOf(cmd: Command): Runtime {
  return new Runtime({ root: cmd.optsWithGlobals<GlobalOptions>().root });
}

/** docker's top: at least 20 wide, 3 apart. */
const TOP_MIN_WIDTH = 20;

/**
 * The host's ps output as docker's top reads it: the first line's words are
 * the titles, the last column takes the rest of each line (a command with
 * spaces), and only the rows whose PID is one of `pids` stay.
 */
export function topTable(psOutput: string, pids: number[]): string[][] {
  const [first, ...lines] = psOutput.split('\n');
  const titles = first.trim().split(/\s+/);
  const pidCol = titles.indexOf('PID');
  if (pidCol < 0) throw new TcrError('top: no PID column in the output of ps (keep -e/-f, or add -o pid)');
  const set = new Set(pids);
  const rows = [titles];
  for (const line of lines) {
    const f = line.trim().split(/\s+/);
    if (f.length < titles.length || !set.has(Number(f[pidCol]))) continue;
    rows.push([...f.slice(0, titles.length - 1), f.slice(titles.length - 1).join(' ')]);
  }
  return rows;
}

function running(rt: Runtime, id: string): boolean {
  const s = rt.container(id).status();
  return s === 'running' || s === 'paused';
}

function sample(rt: Runtime, id: string): Sample {
  const c = rt.container(id);
  const rec = c.record();
  const live = running(rt, id);
  return { stats: live && rec.cgroup ? c.stats() : undefined, systemNs: systemCpuNs(), net: netCounters(live ? rec.pid : undefined) };
}

interface StatsFlags {
  stream: boolean;
  all?: boolean;
  trunc?: boolean;
  format?: string;
}

export function registerTopStatsCommands(program: Command): void {
  program
    .command('top')
    .description("the processes of a running container, as the host's ps prints them (default ps -ef)")
    .argument('<container>')
    .argument('[ps-options...]')
    .passThroughOptions()
    .allowUnknownOption()
    .action(
      dockerExit(async (id: string, psArgs: string[], _o: unknown, cmd: Command) => {
        const rt = runtimeOf(cmd);
        if (!rt.store.exists(id)) throw new TcrError(`No such container: ${id}`);
        if (!running(rt, id)) throw new TcrError(`container ${id} is not running`);
        const pids = rt.container(id).pids();
        const args = psArgs.length ? psArgs : ['-ef'];
        const r = spawnSync('ps', args, { encoding: 'utf8' });
        if (r.error) throw new TcrError(`ps: ${r.error.message}`);
        if (r.status !== 0) throw new TcrError(`ps ${args.join(' ')} failed: ${r.stderr.trim() || `exit status ${r.status}`}`);
        out(table(topTable(r.stdout, pids), TOP_MIN_WIDTH));
      }),
    );

  program
    .command('stats')
    .description('CPU, memory, network and block I/O of running containers (a table every second; --no-stream: once)')
    .argument('[container...]')
    .option('-a, --all', 'stopped containers too (their figures are zeros)')
    .option('--no-stream', 'print one table and exit')
    .option('--no-trunc', 'full ids (tcr ids are never cut)')
    .option('--format <format>', 'a Go template, table TEMPLATE, or json')
    .action(
      dockerExit(async (ids: string[], o: StatsFlags, cmd: Command) => {
        const rt = runtimeOf(cmd);
        for (const id of ids) if (!rt.store.exists(id)) throw new TcrError(`No such container: ${id}`);
        const chosen = () => (ids.length ? ids : rt.store.ids().filter((id) => rt.store.exists(id) && (o.all || running(rt, id))));
        const format = o.format === undefined || o.format === 'table' ? DEFAULT_STATS_TABLE : o.format;
        const sampleAll = (list: string[]) => new Map(list.map((id) => [id, safeSample(rt, id)] as const));
        const render = (prev: Map<string, Sample | undefined>, now: Map<string, Sample | undefined>) => {
          const items = [...now].flatMap(([id, s]) => (s ? [statsFields(id, prev.get(id), s)] : []));
          return renderList(
            format,
            items,
            (f) => STATS_HEADERS[f] ?? f.toUpperCase(),
            statsFields('', undefined, { systemNs: 0, net: { rx: 0, tx: 0 } }),
          );
        };
        // CPU % is over an interval: a first reading, then the one shown
        let prev = sampleAll(chosen());
        await sleep(1000);
        if (!o.stream) return out(render(prev, sampleAll(chosen())));
        // never process.stdout: creating it makes a stdio pipe non-blocking (src/log.ts)
        const terminal = tty.isatty(1);
        // as podman (and docker) do, a table every interval until interrupted, a terminal's redrawn in place
        for (;;) {
          const now = sampleAll(chosen());
          out(`${terminal ? '\x1b[2J\x1b[H' : ''}${render(prev, now)}`);
          prev = now;
          await sleep(1000);
        }
      }),
    );
}

/** A reading, or none for a container removed meanwhile. */
function safeSample(rt: Runtime, id: string): Sample | undefined {
  try {
    return sample(rt, id);
  } catch (e) {
    if (!rt.store.exists(id)) return undefined;
    throw e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
