// pause, resume, ps, update, events: the commands that work on a
// container's cgroup, with runc's flags and output.
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { Runtime } from '../container/runtime.js';
import { SpecError, TcrError } from '../errors.js';
import { validateResources } from '../spec/validate.js';
import { out } from '../log.js';
import type { Resources } from '../spec/types.js';
import type { GlobalOptions } from './main.js';
import type { DockerPsFlags } from './ps-command.js';
import { parseBytes } from './units.js';

function runtimeOf(cmd: Command): Runtime {
  return new Runtime({ root: cmd.optsWithGlobals<GlobalOptions>().root });
}

function parseInteger(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v)) throw new TcrError(`${flag}: ${JSON.stringify(v)} is not an integer`);
  return Number(v);
}

interface UpdateFlags {
  resources?: string;
  blkioWeight?: string;
  cpuPeriod?: string;
  cpuQuota?: string;
  cpuShare?: string;
  cpuRtPeriod?: string;
  cpuRtRuntime?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  memory?: string;
  memoryReservation?: string;
  memorySwap?: string;
  pidsLimit?: string;
}

export function resourcesFromFlags(o: UpdateFlags): Resources {
  let r: Resources = {};
  if (o.resources) {
    const text = o.resources === '-' ? fs.readFileSync(0, 'utf8') : fs.readFileSync(o.resources, 'utf8');
    try {
      r = JSON.parse(text) as Resources;
    } catch (e) {
      throw new TcrError(`--resources ${o.resources}: not valid JSON: ${(e as Error).message}`);
    }
  }
  const cpu = { ...(r.cpu ?? {}) };
  if (o.cpuPeriod !== undefined) cpu.period = parseInteger(o.cpuPeriod, '--cpu-period');
  if (o.cpuQuota !== undefined) cpu.quota = parseInteger(o.cpuQuota, '--cpu-quota');
  if (o.cpuShare !== undefined) cpu.shares = parseInteger(o.cpuShare, '--cpu-share');
  if (o.cpuRtPeriod !== undefined) cpu.realtimePeriod = parseInteger(o.cpuRtPeriod, '--cpu-rt-period');
  if (o.cpuRtRuntime !== undefined) cpu.realtimeRuntime = parseInteger(o.cpuRtRuntime, '--cpu-rt-runtime');
  if (o.cpusetCpus !== undefined) cpu.cpus = o.cpusetCpus;
  if (o.cpusetMems !== undefined) cpu.mems = o.cpusetMems;
  if (Object.keys(cpu).length) r.cpu = cpu;
  const mem = { ...(r.memory ?? {}) };
  if (o.memory !== undefined) mem.limit = parseBytes(o.memory, '--memory');
  if (o.memoryReservation !== undefined) mem.reservation = parseBytes(o.memoryReservation, '--memory-reservation');
  if (o.memorySwap !== undefined) mem.swap = parseBytes(o.memorySwap, '--memory-swap');
  if (Object.keys(mem).length) r.memory = mem;
  if (o.pidsLimit !== undefined) r.pids = { limit: parseInteger(o.pidsLimit, '--pids-limit') };
  if (o.blkioWeight !== undefined) r.blockIO = { ...(r.blockIO ?? {}), weight: parseInteger(o.blkioWeight, '--blkio-weight') };
  try {
    validateResources(r); // the checks create makes: a rule the kernel would take half-way is refused whole
  } catch (e) {
    if (!(e instanceof SpecError)) throw e;
    const field = e.field.replace(/^linux\.resources\./, '');
    throw new TcrError(`${o.resources ? `--resources ${o.resources}: ` : ''}${field}: ${e.reason}`);
  }
  return r;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/**
 * The host's ps (default -ef) cut to the lines of these pids, header first:
 * runc's `ps ID` and docker's `top`. Its PID column is found by name, so any
 * ps options that keep one work.
 */
export function hostPs(pids: number[], psArgs: string[]): string {
  const r = spawnSync('ps', psArgs.length ? psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.error) throw new TcrError(`ps: ${r.error.message}`);
  if (r.status !== 0) throw new TcrError(`ps ${psArgs.join(' ')}: ${r.stderr.trim()}`);
  const lines = r.stdout.split('\n');
  const pidCol = lines[0].trim().split(/\s+/).indexOf('PID');
  if (pidCol < 0) throw new TcrError(`ps ${psArgs.join(' ')}: no PID column in its output (add -o pid or use -ef)`);
  const set = new Set(pids);
  return [lines[0], ...lines.slice(1).filter((l) => set.has(Number(l.trim().split(/\s+/)[pidCol])))].join('\n') + '\n';
}

function parseInterval(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v);
  if (!m) throw new TcrError(`--interval: ${JSON.stringify(v)} is not a duration (e.g. 5s, 500ms)`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2] ?? 's']!;
}

export function registerCgroupCommands(program: Command): void {
  program
    .command('pause')
    .description('freeze every process of the container')
    .argument('<id>')
    .action((id: string, _o: unknown, cmd: Command) => runtimeOf(cmd).container(id).pause());
  program
    .command('resume')
    .description('thaw a paused container')
    .argument('<id>')
    .action((id: string, _o: unknown, cmd: Command) => runtimeOf(cmd).container(id).resume());

  program
    .command('ps')
    .description('list the containers (docker), or the processes of container ID (runc)')
    .argument('[id]')
    .argument('[ps-args...]')
    .usage(
      "[-a] [-q] [-f KEY=VALUE] [--format T]  (docker's: the containers)\n       tcr ps [-f table|json] ID [PS-ARGS...]   (runc's: the processes of ID)",
    )
    .passThroughOptions()
    .option('--format <format>', "with an ID (runc's form): table or json; without: a Go template, table TEMPLATE, or json")
    .option('-f, --filter <key=value>', "without an ID: docker's filter (repeatable); with an ID: runc's --format", collect, [])
    .option('-a, --all', "without an ID (docker's form): stopped containers too")
    .option('-q, --quiet', "without an ID: only the containers' ids")
    .option('-n, --last <n>', 'without an ID: the n containers created last (stopped ones too)')
    .option('-l, --latest', 'without an ID: the container created last')
    .option('-s, --size', "without an ID: the size of each container's own layer (and with its image)")
    .option('--no-trunc', 'without an ID: the whole command')
    .action(async (id: string | undefined, psArgs: string[], o: DockerPsFlags, cmd: Command) => {
      if (id === undefined) {
        const { dockerPs } = await import('./ps-command.js');
        return out(await dockerPs(cmd.optsWithGlobals<GlobalOptions>(), o));
      }
      const format = o.format ?? o.filter.at(-1) ?? 'table';
      const pids = runtimeOf(cmd).container(id).pids();
      if (format === 'json') return out(JSON.stringify(pids) + '\n');
      if (format !== 'table') throw new TcrError(`--format: ${JSON.stringify(format)} is neither table nor json`);
      out(hostPs(pids, psArgs));
    });

  program
    .command('update')
    .description('change the resource limits of a running container')
    .argument('<id>')
    .option('-r, --resources <file>', 'a linux.resources JSON file ("-" for stdin)')
    .option('--blkio-weight <n>', 'block IO weight (10-1000)')
    .option('--cpu-period <us>', 'CFS period')
    .option('--cpu-quota <us>', 'CFS quota per period (-1: none)')
    .option('--cpu-share <n>', 'CPU shares (relative weight)')
    .option('--cpu-rt-period <us>', 'realtime period')
    .option('--cpu-rt-runtime <us>', 'realtime runtime per period')
    .option('--cpuset-cpus <list>', 'CPUs allowed (0-3,5)')
    .option('--cpuset-mems <list>', 'memory nodes allowed')
    .option('--memory <bytes>', 'memory limit (512m; -1: none)')
    .option('--memory-reservation <bytes>', 'memory soft limit')
    .option('--memory-swap <bytes>', 'memory plus swap limit (-1: unlimited swap)')
    .option('--pids-limit <n>', 'process count limit')
    .action(async (id: string, o: UpdateFlags, cmd: Command) => {
      await runtimeOf(cmd).container(id).update(resourcesFromFlags(o));
    });

  program
    .command('events')
    .description('print container events (OOM) and resource statistics as JSON')
    .argument('<id>')
    .option('--interval <duration>', 'how often to print statistics', '5s')
    .option('--stats', 'print the statistics once and exit')
    .action(async (id: string, o: { interval: string; stats?: boolean }, cmd: Command) => {
      const c = runtimeOf(cmd).container(id);
      const stats = () => out(JSON.stringify({ type: 'stats', id, data: c.stats() }) + '\n');
      if (o.stats) return stats();
      const interval = parseInterval(o.interval);
      let ooms = c.oomKills();
      let next = Date.now();
      // the OOM counter is polled often; statistics are printed at the interval
      for (;;) {
        let stopped: boolean;
        try {
          stopped = c.status() === 'stopped';
          const now = c.oomKills();
          if (now > ooms) out(JSON.stringify({ type: 'oom', id }) + '\n');
          ooms = now;
        } catch {
          return; // deleted meanwhile
        }
        if (stopped) return;
        if (Date.now() >= next) {
          stats();
          next = Date.now() + interval;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    });
}
