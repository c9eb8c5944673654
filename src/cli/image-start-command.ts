// docker's start, restart, attach and create of image containers, the CLI
// side of src/run/image-start.ts. runc's start (of a created container) stays
// lifecycle.ts's; `create` comes here only in docker's form (src/cli/create-form.ts).
import { Command } from 'commander';
import { TcrError } from '../errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { imageContext, runImageCommand, stopContainer, type ImageRunFlags } from './docker-commands.js';
import { addFlags } from './lifecycle.js';
import { IMAGE_RUN_FLAGS } from './shapes.js';
import { DEFAULT_DETACH_KEYS, parseDetachKeys } from '../run/detach-keys.js';
import type { Attaching } from '../run/image-start.js';
import { givenName } from './name-lookup.js';

export interface StartImageFlags {
  attach?: boolean;
  interactive?: boolean;
  detachKeys?: string;
}

/**
 * `tcr start [-a] [-i] NAME` of an image container: prints its name, or with -a (or -i, as docker's) its output,
 * with -i our stdin forwarded, and exits with its status. The attach is made before the container runs.
 */
export async function startImage(g: GlobalOptions, id: string, o: StartImageFlags): Promise<void> {
  const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
  const ctx = await imageContext(g);
  const { openAttach, startImageContainer } = await import('../run/image-start.js');
  if (!o.attach && !o.interactive) {
    await startImageContainer(ctx.runtime, ctx.store.root, id);
    return out(`${givenName(id)}\n`);
  }
  let attaching: Attaching | undefined;
  const request = { stdin: !!o.interactive, detachKeys, sigProxy: true };
  const started = await startImageContainer(ctx.runtime, ctx.store.root, id, async () => {
    attaching = await openAttach(ctx.runtime, ctx.store.root, id, request);
    if (!attaching) throw new TcrError(`start -a ${id}: its monitor serves no attach socket`, 125);
  });
  // already running (docker's start lets it be): attach to it as it is
  if (!started) attaching = await openAttach(ctx.runtime, ctx.store.root, id, request);
  if (!attaching) throw new TcrError(`start -a ${id}: its monitor serves no attach socket`, 125);
  process.exitCode = (await attaching()) ?? 0;
}

/** docker's --sig-proxy=false and --no-stdin=true: commander takes boolean flags bare (main.ts calls this for attach). */
export function attachBooleanValues(argv: string[]): string[] {
  return argv.map((a) => {
    const m = /^--(sig-proxy|no-stdin)=(.*)$/.exec(a);
    if (!m) return a;
    const on = ['1', 't', 'T', 'true', 'TRUE', 'True'].includes(m[2]);
    if (!on && !['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(m[2]))
      throw new TcrError(`--${m[1]}: ${JSON.stringify(m[2])} is not a boolean (true or false)`, 125);
    if (m[1] === 'sig-proxy') return on ? '--sig-proxy' : '--no-sig-proxy';
    return on ? '--no-stdin' : '--stdin';
  });
}

export function registerImageStartCommands(program: Command): void {
  // docker's `container create`, beside inspect-commands.ts's `container inspect`
  const container = program.commands.find((c) => c.name() === 'container');
  if (container) defineImageCreate(container.command('create'));
  program
    .command('restart')
    .description('stop image containers (SIGTERM, SIGKILL after the timeout) and start them again')
    .argument('<id...>')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL', '10')
    .action(async (ids: string[], o: { time: string }, cmd: Command) => {
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const wait = Number(o.time);
      if (!Number.isFinite(wait) || wait < 0) throw new TcrError(`--time: ${JSON.stringify(o.time)} is not a number of seconds`, 125);
      const { isImageContainer, startImageContainer } = await import('../run/image-start.js');
      for (const id of ids) {
        ctx.runtime.container(id); // its "does not exist"
        if (!isImageContainer(ctx.store.root, id))
          throw new TcrError(
            `restart ${id}: not a container of tcr run or create IMAGE (a bundle's is tcr kill, delete and run again)`,
            125,
          );
        await stopContainer(ctx, id, wait);
        await startImageContainer(ctx.runtime, ctx.store.root, id);
        out(`${givenName(id)}\n`);
      }
    });

  program
    .command('attach')
    .description('attach to a running image container: its output, our stdin to it (-i), its terminal (-t); exit with its status')
    .argument('<id>')
    .option('--no-stdin', 'do not forward stdin')
    .option('--stdin', 'forward stdin (the default)')
    .option('--sig-proxy', 'pass the signals tcr gets on to the container, without -t (the default)')
    .option('--no-sig-proxy', 'keep the signals tcr gets')
    .option('--detach-keys <keys>', `the keys that detach, leaving the container running (default ${DEFAULT_DETACH_KEYS})`)
    .action(async (id: string, o: { stdin: boolean; sigProxy: boolean; detachKeys?: string }, cmd: Command) => {
      const detachKeys = parseDetachKeys(o.detachKeys ?? DEFAULT_DETACH_KEYS);
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const { attachOutput, attachPoint, isImageContainer, openAttach } = await import('../run/image-start.js');
      const c = ctx.runtime.container(id);
      if (!isImageContainer(ctx.store.root, id)) throw new TcrError(`attach ${id}: not a container of tcr run or create IMAGE`, 125);
      if (c.status() !== 'running' && c.status() !== 'paused')
        throw new TcrError('You cannot attach to a stopped container, start it first', 125);
      const at = attachPoint(ctx.store.root, id);
      const attaching = await openAttach(ctx.runtime, ctx.store.root, id, {
        stdin: o.stdin !== false,
        detachKeys,
        sigProxy: o.sigProxy !== false,
      });
      // a container whose monitor serves no socket (an older tcr's): its output through the log
      process.exitCode = attaching ? ((await attaching()) ?? 0) : await attachOutput(ctx.runtime, ctx.store.root, id, at);
    });
}

/** `container create` (and `create` in docker's form): the flags of run, nothing launched until start. */
export function defineImageCreate(c: Command): Command {
  c.description('make a container from an image, as run would, without starting it (tcr start NAME runs it)')
    .argument('<image>')
    .argument('[command...]')
    .passThroughOptions();
  // -h is docker's --hostname here as in run
  c.helpOption('--help', 'show help');
  addFlags(c, IMAGE_RUN_FLAGS);
  return c.action(async (image: string, command: string[], f: ImageRunFlags, cmd: Command) => {
    process.exitCode = await runImageCommand(cmd.optsWithGlobals<GlobalOptions>(), image, command, f, true);
  });
}
