// The tcr command line: runc's commands and flags, each a thin call into the
// library (src/container/runtime.ts). Output goes through fs.writeSync, never
// process.stdout (see src/log.ts).
import { withBooleanValues } from './bool-values.js';
import { Command } from 'commander';
import fs from 'node:fs';
import { errnoCode } from '../errors.js';
import { registerCgroupCommands } from './cgroup-commands.js';
import { registerExec } from './exec-command.js';
import { registerFeatures } from './features.js';
import { registerImageCommands } from './image-commands.js';
import { registerNetworkCommands } from './network-commands.js';
import { registerVolumeCommands } from './volume-commands.js';
import { registerComposeCommand } from './compose-command.js';
import { registerLabCommand } from './lab-command.js';
import { parseFastPath } from './fast-path.js';
import { lookUpNames } from './name-lookup.js';
import { registerContainerCommands } from './docker-commands.js';
import { registerInspectCommands } from './inspect-commands.js';
import { registerInfoCommands } from './info-commands.js';
import { registerImageStartCommands } from './image-start-command.js';
import { registerTopStatsCommands } from './top-stats-commands.js';
import { registerRenameCommand } from './rename-command.js';
import { registerPruneCommands } from './prune-commands.js';
import { registerTransferCommands } from './transfer-commands.js';
import { addFlags, lifecycleActions, registerLifecycle, runCommand } from './lifecycle.js';
import { GLOBAL_FLAGS, parseFlagDef } from './shapes.js';
import { closeCommands, failureStatus, requireRoot, unknownCommand } from './cli-errors.js';
import { unpacksAsUser } from './rootless-unpack.js';
import { registerSpec } from './spec.js';
import { VERSION, versionText } from './version.js';
import { rewriteTraceFile } from './trace-flag.js';
import {
  applyGlobals,
  commandIndex,
  commandName,
  exitStatus,
  reportFailure,
  runParsed,
  storeFlag,
  withCreateForm,
  type GlobalOptions,
} from './command-line.js';

export type { GlobalOptions } from './command-line.js';
export { commandName } from './command-line.js';

/**
 * A view of the program on which only `only` gets really defined: every other
 * `program.command(...)` chain lands on a sink that ignores all calls. Set-up
 * of commander's options is what a command's start-up spends most on.
 */
function onlyCommand(program: Command, only: string, matched: { yes: boolean }): Command {
  const sink: unknown = new Proxy(() => sink, { get: () => () => sink });
  return new Proxy(program, {
    get(target, prop, receiver) {
      if (prop !== 'command') return Reflect.get(target, prop, receiver) as unknown;
      return (nameAndArgs: string, ...rest: unknown[]) => {
        if (nameAndArgs.split(' ')[0] !== only) return sink;
        matched.yes = true;
        return (target.command as (...a: unknown[]) => Command)(nameAndArgs, ...rest);
      };
    },
  });
}

/** The whole CLI; with `only`, just that sub-command (all of them if it names none). */
export function buildProgram(only?: string): Command {
  const program = new Command('tcr');
  program.description('tcr: a runc-compatible OCI container runtime, written in TypeScript');
  addFlags(program, GLOBAL_FLAGS)
    .version(versionText().trimEnd(), '-v, --version', 'print the version')
    .configureOutput({
      writeOut: (s) => fs.writeSync(1, s),
      writeErr: (s) => fs.writeSync(2, s),
      outputError: (s, write) => write(parseErrorText(s, only, flagsOf(program, only))),
    })
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(false)
    // its hints reach too far (--frce: --trace); parseErrorText gives closer ones
    .showSuggestionAfterError(false);
  program.hook('preAction', (thisCommand) => applyGlobals(thisCommand.opts<GlobalOptions>()));
  program.hook('preAction', (_program, action) => lookUpNames(action)); // a renamed container's new name finds its id
  const matched = { yes: false };
  const target = only ? onlyCommand(program, only, matched) : program;
  registerSpec(target);
  registerLifecycle(target);
  registerCgroupCommands(target);
  registerExec(target);
  registerFeatures(target);
  registerContainerCommands(target);
  registerInspectCommands(target);
  registerInfoCommands(target);
  registerImageCommands(target);
  registerNetworkCommands(target);
  registerVolumeCommands(target);
  registerComposeCommand(target);
  registerImageStartCommands(target);
  registerTopStatsCommands(target);
  registerRenameCommand(target);
  registerPruneCommands(target);
  registerTransferCommands(target);
  registerLabCommand(target);
  // an unknown name: the full program, so commander's message lists the real commands
  if (only && !matched.yes) return buildProgram();
  return program;
}

/** The long flags of sub-command `name` (the global ones without a name). */
function flagsOf(program: Command, name: string | undefined): string[] {
  const c = name === undefined ? program : (program.commands.find((x) => x.name() === name) ?? program);
  return c.options.flatMap((o) => (o.long ? [o.long] : []));
}

/** commander's "error: unknown option '--x'" in tcr's form: a hint only to a close flag of the same command, and where its flags are listed. */
function parseErrorText(s: string, command: string | undefined, flags: string[]): string {
  let text = s.trimEnd().replace(/^error: /, '');
  const unknown = /^unknown option '(--[^'=]+)/.exec(text);
  if (unknown) {
    const close = closeCommands(
      unknown[1].slice(2),
      flags.map((f) => f.slice(2)),
    ).map((f) => `--${f}`);
    if (close.length) text += ` (did you mean ${close.join(' or ')}?)`;
  }
  return `tcr: ${text}\nSee 'tcr ${command ? `${command} ` : ''}--help'.\n`;
}

const GLOBAL_LONGS = new Set(['--help', '-h', '--version', '-v', ...GLOBAL_FLAGS.map((f) => parseFlagDef(f).long)]);

/** Whether every flag before `name` is a global one: after an unknown flag, `name` may be its value, and commander names the flag instead. */
function onlyGlobalsBefore(argv: string[], name: string): boolean {
  return argv.slice(0, argv.indexOf(name)).every((a) => !a.startsWith('-') || GLOBAL_LONGS.has(a.split('=')[0]));
}

export async function main(argv: string[]): Promise<number> {
  argv = rewriteTraceFile(argv);
  let name = commandName(argv);
  try {
    // docker's --rm=false, -t=true: both parsers take boolean flags bare
    if (name === 'run') argv = withBooleanValues(argv, argv.indexOf(name));
    if (name === 'attach') argv = (await import('./image-start-command.js')).attachBooleanValues(argv);
    if (name === 'create') {
      argv = await withCreateForm(argv);
      name = commandName(argv);
    }
    if (unpacksAsUser(argv, name)) {
      requireRoot(argv, name);
      const { runAsMappedRoot } = await import('../image/userns-exec.js');
      const store = storeFlag(argv.slice(0, Math.max(commandIndex(argv), 0)));
      return runAsMappedRoot(argv, store ?? (await import('../image/store.js')).defaultStoreRoot());
    }
    const fast = parseFastPath(argv);
    if (fast) {
      const run = (g: GlobalOptions, args: string[], o: never) => runCommand(g, args, o, fast.given!);
      await runParsed(fast, argv, name, { ...lifecycleActions, run });
    } else {
      const program = buildProgram(name);
      const known = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
      if (name !== undefined && name !== 'help' && !known.includes(name) && onlyGlobalsBefore(argv, name))
        throw unknownCommand(
          name,
          known.filter((c) => c !== 'monitor'),
        );
      requireRoot(argv, name);
      await program.parseAsync(argv, { from: 'user' });
    }
    return exitStatus();
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return failureStatus(argv, name); // commander already printed the message
    return reportFailure(e, argv, name);
  }
}

export { VERSION };
export { warmUp } from './warm-up.js';
