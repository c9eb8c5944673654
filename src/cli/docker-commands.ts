// The docker/podman side of the CLI: `tcr run IMAGE [CMD...]` with docker's
// flags, and the commands that go with containers started that way:
// logs, stop, rm (`tcr ps` without an id, the list of containers, is ps-command.ts).
import { Command } from 'commander';
import fs from 'node:fs';
import { Runtime } from '../container/runtime.js';
import { StepError, TcrError, errorMessage } from '../errors.js';
import { PlanOp } from '../linux/plan-steps.js';
import { out } from '../log.js';
import type { NetworkFlags } from '../network/prepare.js';
import { HOST_FLAG_KEYS, noHostFlags, type HostConfigFlags, type ImageRunOptions } from '../run/options.js';
import { checkName, memoryLimits, validName } from './run-checks.js';
import type { GlobalOptions } from './main.js';
import { execFailureStatus } from '../linux/exit-status.js';
import { readExitRecord } from '../container/exit-record.js';
import { givenName } from './name-lookup.js';

/** docker's run flags as commander gives them; the network ones are src/network/prepare.ts's */
export interface ImageRunFlags extends NetworkFlags, Partial<HostConfigFlags> {
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
  restart?: string;
  healthCmd?: string;
  healthInterval?: string;
  healthTimeout?: string;
  healthRetries?: string;
  healthStartPeriod?: string;
  /** false for --no-healthcheck */
  healthcheck?: boolean;
  platform?: string;
}

function memoryOptions(memory: string | undefined, memorySwap: string | undefined): Pick<ImageRunOptions, 'memory' | 'memorySwap'> {
  const m = memoryLimits(memory, memorySwap);
  return { memory: m.limit, memorySwap: m.swap };
}

/** The HostConfig flags as given, for src/run/host-config.ts (which checks them). */
function hostConfigFlags(f: Partial<HostConfigFlags>): HostConfigFlags {
  const picked = Object.fromEntries(HOST_FLAG_KEYS.filter((k) => f[k] !== undefined).map((k) => [k, f[k]]));
  return { ...noHostFlags(), ...picked };
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
    host: hostConfigFlags(f),
    restart: f.restart,
    health: {
      cmd: f.healthCmd,
      interval: f.healthInterval,
      timeout: f.healthTimeout,
      retries: f.healthRetries,
      startPeriod: f.healthStartPeriod,
      disabled: f.healthcheck === false,
    },
  };
}

export async function imageContext(g: GlobalOptions) {
  // the image store and its registry client load only for image commands
  const { ImageStore } = await import('../image/store.js');
  return { runtime: new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup }), store: new ImageStore({ root: g.store }) };
}

/** `run IMAGE`, and with `createOnly` docker's `create IMAGE` (nothing launched until start). */
export async function runImageCommand(
  g: GlobalOptions,
  image: string,
  command: string[],
  f: ImageRunFlags,
  createOnly = false,
): Promise<number> {
  try {
    const { runImage } = await import('../run/image-run.js');
    const ctx = await imageContext(g);
    const o = { ...imageRunOptions(image, command, f), createOnly };
    const { id, status } = await runImage(o, ctx);
    if (o.detach || createOnly) out(`${id}\n`);
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
  // a launch its monitor made (run -d) and reported failed: the status was decided there
  const decided = (e as { dockerStatus?: unknown } | undefined)?.dockerStatus;
  if (typeof decided === 'number') return decided;
  if (e instanceof StepError && (e.op === PlanOp.findExec || e.op === PlanOp.exec)) return execFailureStatus(e.errnoName);
  return 125;
}

/** `tcr stop` of one container (restart's first half); false when it was not running. */
/** docker stop: the run's --stop-signal (or the image's StopSignal), SIGKILL after `given` seconds, else its --stop-timeout, else 10 (-1: never). */
export async function stopContainer(ctx: Awaited<ReturnType<typeof imageContext>>, id: string, given?: number): Promise<boolean> {
  const rt = ctx.runtime;
  const { runNote } = await import('../run/inspect.js');
  const { requestStop } = await import('../run/monitor-files.js');
  const { containerDir } = await import('../run/image-run.js');
  const c = rt.container(id);
  if (validName(id)) requestStop(containerDir(ctx.store, id)); // its monitor must not restart it (--restart)
  // a -d --rm container's monitor may remove it as soon as it stops
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
    return false;
  }
  const note = rt.store.exists(id) ? runNote(c.record()) : undefined;
  const wait = given ?? note?.stopTimeout ?? 10;
  c.kill(note?.stopSignal ?? 'SIGTERM');
  const end = wait < 0 ? Infinity : Date.now() + wait * 1000;
  while (!stopped() && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  if (!stopped()) c.kill('SIGKILL', true);
  const killed = Date.now() + 5000;
  while (!stopped() && Date.now() < killed) await new Promise((r) => setTimeout(r, 20));
  await c.releaseNetwork();
  return true;
}

export function registerContainerCommands(program: Command): void {
  program
    .command('logs')
    .description("print the output of a detached image container (stdout's to stdout, stderr's to stderr)")
    .argument('<id>')
    .option('-f, --follow', 'keep printing new output until the container stops')
    .option('-n, --tail <lines>', 'only the last N lines (or all)', 'all')
    .option('-t, --timestamps', 'print the time of each line first (RFC3339 with nanoseconds)')
    .option('--since <time>', 'only lines from then on (RFC3339, a Unix time, or a duration back from now such as 10m)')
    .option('--until <time>', 'only lines until then (as --since)')
    .action(
      async (id: string, o: { follow?: boolean; tail: string; timestamps?: boolean; since?: string; until?: string }, cmd: Command) => {
        const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
        const { logFile } = await import('../run/image-run.js');
        const { logQuery, printLogs } = await import('../run/log-reader.js');
        const { monitorAlive } = await import('../run/monitor-files.js');
        const q = logQuery(o);
        const file = logFile(ctx.store, id);
        if (!fs.existsSync(file))
          throw new TcrError(`container ${id} has no log (a container run with --rm or by runc-style commands has none)`, 125);
        const stateDir = ctx.runtime.store.dir(id);
        // no more comes once it stopped and its monitor wrote the exit record (after the last of the output), or is gone
        const finished = () => {
          try {
            if (!ctx.runtime.store.exists(id) || ctx.runtime.container(id).status() !== 'stopped') return !ctx.runtime.store.exists(id);
          } catch {
            return true;
          }
          return readExitRecord(stateDir) !== undefined || !monitorAlive(stateDir);
        };
        await printLogs(file, q, finished);
      },
    );

  program
    .command('stop')
    .description('stop containers: SIGTERM (or the image StopSignal), SIGKILL after the timeout')
    .argument('<id...>')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL (default: the run --stop-timeout, else 10; -1: no SIGKILL)')
    .action(async (ids: string[], o: { time?: string }, cmd: Command) => {
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const given = o.time === undefined ? undefined : Number(o.time);
      if (given !== undefined && (!Number.isFinite(given) || given < -1))
        throw new TcrError(`--time: ${JSON.stringify(o.time)} is not a number of seconds`);
      for (const id of ids) if (await stopContainer(ctx, id, given)) out(`${givenName(id)}\n`);
    });

  // started by `run -d` and `start` (src/run/monitor-start.ts), not by people: hidden from help
  program
    .command('monitor', { hidden: true })
    .description('stay with a container: launch it, log its output, record its exit, restart or remove it')
    .argument('<id>')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const { monitor } = await import('../run/monitor.js');
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      await monitor(ctx.runtime, ctx.store.root, id, 3);
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
      const { requestStop } = await import('../run/monitor-files.js');
      for (const id of ids) {
        const uses = validName(id) ? readVolumeUses(containerDir(ctx.store, id)) : [];
        const recorded = ctx.runtime.store.exists(id) || ctx.runtime.store.ids().includes(id);
        if (recorded && validName(id)) requestStop(containerDir(ctx.store, id)); // a monitor with --restart must not start it again meanwhile
        if (recorded) await ctx.runtime.container(id).delete(!!o.force);
        // a container its monitor launched keeps its directory out of its record (a failed restart must not take it)
        if (recorded && validName(id)) removeLeftover(ctx.store, id);
        else if (!(validName(id) && removeLeftover(ctx.store, id))) await ctx.runtime.container(id).delete(!!o.force); // its "does not exist"
        if (o.volumes) new VolumeStore(ctx.store.root).removeAnonymous(uses);
        out(`${givenName(id)}\n`);
      }
    });
}
