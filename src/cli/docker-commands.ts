// The docker/podman side of the CLI: `tcr run IMAGE [CMD...]` with docker's
// flags, and the commands that go with containers started that way:
// logs, stop, rm, and `tcr ps` without an id (the list of containers).
import { Command } from 'commander';
import fs from 'node:fs';
import { Runtime } from '../container/runtime.js';
import { StepError, TcrError, errorMessage } from '../errors.js';
import { PlanOp } from '../linux/plan-steps.js';
import { out } from '../log.js';
import type { NetworkFlags } from '../network/prepare.js';
import type { ImageRunOptions } from '../run/options.js';
import { checkName, memoryLimits, validName } from './run-checks.js';
import type { GlobalOptions } from './main.js';
import { table } from './table.js';
import { execFailureStatus } from '../linux/exit-status.js';

/** docker's run flags as commander gives them; the network ones are src/network/prepare.ts's */
export interface ImageRunFlags extends NetworkFlags {
  interactive?: boolean;
  tty?: boolean;
  rm?: boolean;
  name?: string;
  env: string[];
  envFile: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  readOnly?: boolean;
  memory?: string;
  memorySwap?: string;
  cpus?: string;
  pidsLimit?: string;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  pull: 'missing' | 'always' | 'never';
  detach?: boolean;
  platform?: string;
}

function memoryOptions(memory: string | undefined, memorySwap: string | undefined): Pick<ImageRunOptions, 'memory' | 'memorySwap'> {
  const m = memoryLimits(memory, memorySwap);
  return { memory: m.limit, memorySwap: m.swap };
}

export function imageRunOptions(image: string, command: string[], f: ImageRunFlags): ImageRunOptions {
  const num = (v: string | undefined, flag: string, int: boolean) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n)))
      throw new TcrError(`${flag}: ${JSON.stringify(v)} is not a positive ${int ? 'integer' : 'number'}`);
    return n;
  };
  return {
    image,
    command,
    name: checkName(f.name),
    interactive: f.interactive,
    tty: f.tty,
    detach: f.detach,
    rm: f.rm,
    env: f.env,
    envFiles: f.envFile,
    workdir: f.workdir,
    user: f.user,
    entrypoint: f.entrypoint,
    hostname: f.hostname,
    volumes: f.volume,
    mounts: f.mount,
    tmpfs: f.tmpfs,
    readOnly: f.readOnly,
    ...memoryOptions(f.memory, f.memorySwap),
    cpus: num(f.cpus, '--cpus', false),
    pidsLimit: num(f.pidsLimit, '--pids-limit', true),
    capAdd: f.capAdd,
    capDrop: f.capDrop,
    securityOpt: f.securityOpt,
    network: f.network,
    pull: f.pull,
    platform: f.platform,
    publish: f.publish,
    publishAll: f.publishAll,
    dns: f.dns,
    dnsSearch: f.dnsSearch,
    dnsOption: f.dnsOption,
    addHost: f.addHost,
    networkAlias: f.networkAlias,
  };
}

async function imageContext(g: GlobalOptions) {
  // the image store and its registry client load only for image commands
  const { ImageStore } = await import('../image/store.js');
  return { runtime: new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup }), store: new ImageStore({ root: g.store }) };
}

export async function runImageCommand(g: GlobalOptions, image: string, command: string[], f: ImageRunFlags): Promise<number> {
  try {
    const { runImage } = await import('../run/image-run.js');
    const ctx = await imageContext(g);
    const o = imageRunOptions(image, command, f);
    const { id, status } = await runImage(o, ctx);
    if (o.detach) out(`${id}\n`);
    return status;
  } catch (e) {
    throw new TcrError(errorMessage(e), dockerStatus(e), { cause: e });
  }
}

/**
 * docker's and podman's exit status for a run that never reached the
 * container's own: 127 when the command is not found, 126 when it cannot be
 * executed, 125 for any other failure of the runtime's.
 */
export function dockerStatus(e: unknown): number {
  if (e instanceof StepError && (e.op === PlanOp.findExec || e.op === PlanOp.exec)) return execFailureStatus(e.errnoName);
  return 125;
}

export function registerContainerCommands(program: Command): void {
  program
    .command('logs')
    .description('print the output of a detached image container')
    .argument('<id>')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .action(async (id: string, o: { follow?: boolean }, cmd: Command) => {
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const { logFile } = await import('../run/image-run.js');
      const file = logFile(ctx.store, id);
      if (!fs.existsSync(file)) throw new TcrError(`container ${id} has no log (only containers started with tcr run -d IMAGE have one)`);
      let pos = 0;
      const dump = () => {
        const fd = fs.openSync(file, 'r');
        const buf = Buffer.alloc(65536);
        let n: number;
        while ((n = fs.readSync(fd, buf, 0, buf.length, pos)) > 0) {
          fs.writeSync(1, buf.subarray(0, n));
          pos += n;
        }
        fs.closeSync(fd);
      };
      dump();
      while (o.follow && ctx.runtime.store.exists(id) && ctx.runtime.container(id).status() !== 'stopped') {
        await new Promise((r) => setTimeout(r, 200));
        dump();
      }
      if (o.follow) dump();
    });

  program
    .command('stop')
    .description('stop containers: SIGTERM (or the image StopSignal), SIGKILL after the timeout')
    .argument('<id...>')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL', '10')
    .action(async (ids: string[], o: { time: string }, cmd: Command) => {
      const rt = new Runtime({ root: cmd.optsWithGlobals<GlobalOptions>().root });
      const wait = Number(o.time);
      if (!Number.isFinite(wait) || wait < 0) throw new TcrError(`--time: ${JSON.stringify(o.time)} is not a number of seconds`);
      for (const id of ids) {
        const c = rt.container(id);
        // a -d --rm container's reaper may remove it as soon as it stops
        const stopped = () => {
          try {
            return c.status() === 'stopped';
          } catch (e) {
            if (rt.store.exists(id)) throw e;
            return true;
          }
        };
        if (stopped()) {
          await c.releaseNetwork(); // exited by itself: its address goes back too
          continue;
        }
        c.kill('SIGTERM');
        const end = Date.now() + wait * 1000;
        while (!stopped() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        if (!stopped()) c.kill('SIGKILL', true);
        const killed = Date.now() + 5000;
        while (!stopped() && Date.now() < killed) await new Promise((r) => setTimeout(r, 20));
        await c.releaseNetwork();
        out(`${id}\n`);
      }
    });

  // started by `run -d --rm` (src/run/reaper.ts), not by people: hidden from help
  program
    .command('reap', { hidden: true })
    .description('wait for a container to stop, then delete it')
    .argument('<id>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { reap } = await import('../run/reaper.js');
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      await reap(ctx.runtime, id, ctx.store.root);
    });

  program
    .command('rm')
    .description('remove containers (and their root filesystems)')
    .argument('<id...>')
    .option('-f, --force', 'kill running containers first')
    .option('-v, --volumes', 'remove the anonymous volumes of the containers too (named ones stay)')
    .action(async (ids: string[], o: { force?: boolean; volumes?: boolean }, cmd: Command) => {
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const { removeLeftover, containerDir } = await import('../run/image-run.js');
      const { VolumeStore, readVolumeUses } = await import('../volumes/store.js');
      for (const id of ids) {
        const uses = validName(id) ? readVolumeUses(containerDir(ctx.store, id)) : [];
        const recorded = ctx.runtime.store.exists(id) || ctx.runtime.store.ids().includes(id);
        if (recorded) await ctx.runtime.container(id).delete(!!o.force);
        else if (!(validName(id) && removeLeftover(ctx.store, id))) await ctx.runtime.container(id).delete(!!o.force); // its "does not exist"
        if (o.volumes) new VolumeStore(ctx.store.root).removeAnonymous(uses);
        out(`${id}\n`);
      }
    });
}

/** `tcr ps` without an id: the containers, docker's way. */
export function listContainers(rt: Runtime, all: boolean): string {
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PID']];
  for (const s of rt.list()) {
    if (!all && s.status === 'stopped') continue;
    const rec = rt.container(s.id).record();
    const cmdline = (rec.config.process?.args ?? []).join(' ');
    rows.push([
      s.id,
      rec.annotations?.['dev.tcr.image'] ?? '(bundle)',
      JSON.stringify(cmdline.length > 30 ? cmdline.slice(0, 27) + '...' : cmdline),
      String(s.created),
      s.status,
      String(s.pid),
    ]);
  }
  return table(rows);
}
