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
import { givenName } from './name-lookup.js';

/** `tcr start [-a] NAME` of an image container: prints its name, or with -a its output, and exits with its status. */
export async function startImage(g: GlobalOptions, id: string, o: { attach?: boolean; interactive?: boolean }): Promise<void> {
  if (o.interactive) throw new TcrError('start -i: forwarding stdin to an image container is not supported yet (-a prints its output)');
  const ctx = await imageContext(g);
  const { attachOutput, attachPoint, startImageContainer } = await import('../run/image-start.js');
  const at = attachPoint(ctx.store.root, id);
  await startImageContainer(ctx.runtime, ctx.store.root, id);
  if (!o.attach) return out(`${givenName(id)}\n`);
  process.exitCode = await attachOutput(ctx.runtime, ctx.store.root, id, at);
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
    .description("print a running image container's output from now until it stops, and exit with its status")
    .argument('<id>')
    .option('--no-stdin', 'do not forward stdin (it never is yet)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const ctx = await imageContext(cmd.optsWithGlobals<GlobalOptions>());
      const { attachOutput, attachPoint, isImageContainer } = await import('../run/image-start.js');
      const c = ctx.runtime.container(id);
      if (!isImageContainer(ctx.store.root, id)) throw new TcrError(`attach ${id}: not a container of tcr run or create IMAGE`, 125);
      if (c.status() !== 'running' && c.status() !== 'paused')
        throw new TcrError('You cannot attach to a stopped container, start it first', 125);
      const at = attachPoint(ctx.store.root, id);
      process.exitCode = await attachOutput(ctx.runtime, ctx.store.root, id, at);
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
