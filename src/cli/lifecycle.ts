// create, start, run, state, kill, delete, list: runc's lifecycle commands.
import { Command, Option } from 'commander';
import { Runtime } from '../container/runtime.js';
import { TraceRecorder } from '../container/trace-record.js';
import { TcrError, errorMessage } from '../errors.js';
import { formatPlan } from '../linux/plan.js';
import { out } from '../log.js';
import type { GlobalOptions } from './command-line.js';
import { containerActions, startsImage, type StartFlags } from './container-actions.js';
import { runImageCommand, type ImageRunFlags } from './docker-commands.js';
import { hostProbe, runForm } from './run-form.js';
import { RUN_RULE, RUN_USAGE } from './run-help.js';
import { SHAPES, parseFlagDef, type CommandShape, type FlagDef } from './shapes.js';

export interface CreateFlags {
  bundle: string;
  pidFile?: string;
  /** commander turns --no-pivot into pivot: false */
  pivot?: boolean;
  newKeyring?: boolean;
  preserveFds?: string;
  trace?: boolean;
  traceFile?: string;
  dryRun?: boolean;
  consoleSocket?: string;
}
type BundleRunFlags = CreateFlags & { detach?: boolean; keep?: boolean };

function createOptions(o: CreateFlags) {
  const preserve = o.preserveFds === undefined ? 0 : Number(o.preserveFds);
  if (!Number.isInteger(preserve) || preserve < 0)
    throw new TcrError(`--preserve-fds: ${JSON.stringify(o.preserveFds)} is not a count of fds`);
  return {
    bundle: o.bundle,
    pidFile: o.pidFile,
    noPivot: o.pivot === false,
    noNewKeyring: o.newKeyring === false,
    preserveFds: preserve,
    trace: o.trace,
    recorder: traceRecorder(o.traceFile),
    consoleSocket: o.consoleSocket,
  };
}

function traceRecorder(file: string | undefined): TraceRecorder | undefined {
  if (file === undefined) return undefined;
  if (!/\.(svg|json)$/.test(file)) throw new TcrError(`--trace=${file}: the file's name must end in .svg (a picture) or .json (the spans)`);
  return new TraceRecorder();
}

/** Runs a create or run with its --trace=FILE written afterwards, also when the launch failed (the picture then ends at the failed step). */
async function withTraceFile<T>(file: string | undefined, recorder: TraceRecorder | undefined, fn: () => Promise<T>): Promise<T> {
  if (!file || !recorder) return fn();
  try {
    return await fn();
  } finally {
    const { writeTraceFile } = await import('../bundles/labs.js');
    writeTraceFile(file, recorder.data());
  }
}

const runtime = (g: GlobalOptions) => new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup });

/**
 * What each lifecycle command does, given the parsed global options,
 * positionals and options: the same whether commander parsed them or the
 * fast path (src/cli/fast-path.ts) did. Those on a recorded container are
 * src/cli/container-actions.ts's, which the engine's bundle runs too.
 */
export const lifecycleActions = {
  ...containerActions,
  async create(g: GlobalOptions, [id]: string[], o: CreateFlags): Promise<void> {
    const rt = runtime(g);
    if (o.dryRun) return out(formatPlan(await rt.plan(o.bundle, { ...createOptions(o), id })));
    const options = createOptions(o);
    await withTraceFile(o.traceFile, options.recorder, () => rt.create(id, options));
  },
  /** runc's start of a created container; docker's of a stopped image container (src/run/image-start.ts) */
  async start(g: GlobalOptions, args: string[], o: StartFlags = {}): Promise<void> {
    if (!startsImage(g, args[0])) return containerActions.start(g, args, o);
    await (await import('./image-start-command.js')).startImage(g, args[0], o);
  },
  /** runc's `run ID` of a bundle; the docker-style image run is image-run.ts's */
  async run(g: GlobalOptions, [id, ...command]: string[], o: BundleRunFlags): Promise<void> {
    const rt = runtime(g);
    if (command.length) throw new TcrError(`run --bundle ${o.bundle} ${id}: a bundle run takes no command (it is in config.json)`);
    if (o.dryRun) return out(formatPlan(await rt.plan(o.bundle, { ...createOptions(o), id })));
    const options = createOptions(o);
    process.exitCode = await withTraceFile(o.traceFile, options.recorder, () => rt.run(id, { ...options, detach: o.detach, keep: o.keep }));
  },
};

/** `tcr run`, parsed by commander or the fast path: runc's run of a bundle or docker's of an image (src/cli/run-form.ts). */
export async function runCommand(
  g: GlobalOptions,
  args: string[],
  o: BundleRunFlags & ImageRunFlags,
  given: Iterable<string>,
): Promise<void> {
  let form;
  try {
    form = await runForm(given, args, hostProbe(g.store));
  } catch (e) {
    throw new TcrError(errorMessage(e), 125, { cause: e });
  }
  if (form === 'bundle') await lifecycleActions.run(g, args, o);
  else process.exitCode = await runImageCommand(g, args[0], args.slice(1), o);
}

/** A commander command with a shape's arguments and flags. */
export function defineShape(program: Command, shape: CommandShape): Command {
  const c = program.command(shape.name).description(shape.description);
  // a command whose flags take -h (docker's run: --hostname) keeps only --help
  if (shape.flags.some((f) => parseFlagDef(f).short === '-h')) c.helpOption('--help', 'show help');
  for (const a of shape.args) c.argument(a);
  addFlags(c, shape.flags);
  return c;
}

export function addFlags(c: Command, flags: FlagDef[]): Command {
  for (const f of flags) {
    const option = new Option(f.flags, f.description);
    if (f.choices) option.choices(f.choices);
    if (f.group) option.helpGroup(f.group);
    if (f.default !== undefined) option.default(f.default);
    if (f.repeatable) option.argParser((v: string, prev: string[] = []) => [...prev, v]).default([]);
    c.addOption(option);
  }
  return c;
}

/** commander hands an action its positionals, then opts, then the command: gather them as [positionals, opts, globals]. */
function call(action: (g: GlobalOptions, args: string[], o: never) => void | Promise<void>) {
  return (...a: unknown[]): void | Promise<void> => {
    const cmd = a[a.length - 1] as Command;
    const positionals = a.slice(0, -2).flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? (v as unknown[]) : [v])) as string[];
    return action(cmd.optsWithGlobals<GlobalOptions>(), positionals, cmd.opts<never>());
  };
}

export function registerLifecycle(program: Command): void {
  defineShape(program, SHAPES.create).action(call(lifecycleActions.create));
  defineShape(program, SHAPES.start).action(call(lifecycleActions.start));
  defineShape(program, SHAPES.run)
    .usage(RUN_USAGE)
    .addHelpText('after', RUN_RULE)
    .passThroughOptions()
    .action(async (target: string, command: string[], o: BundleRunFlags & ImageRunFlags, cmd: Command) => {
      const given = cmd.options.map((x) => x.attributeName()).filter((k) => cmd.getOptionValueSource(k) === 'cli');
      await runCommand(cmd.optsWithGlobals<GlobalOptions>(), [target, ...command], o, given);
    });
  defineShape(program, SHAPES.state).action(call(lifecycleActions.state));
  defineShape(program, SHAPES.kill).action(call(lifecycleActions.kill));
  defineShape(program, SHAPES.delete).action(call(lifecycleActions.delete));

  defineShape(program, SHAPES.list).alias('ls').action(call(lifecycleActions.list));
}
