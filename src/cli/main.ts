// The tcr command line: runc's commands and flags, each a thin call into the
// library (src/container/runtime.ts). Output goes through fs.writeSync, never
// process.stdout (see src/log.ts).
import { Command } from 'commander';
import fs from 'node:fs';
import { TcrError, errorMessage } from '../errors.js';
import { configureLog, log } from '../log.js';
import { registerCgroupCommands } from './cgroup-commands.js';
import { registerExec } from './exec-command.js';
import { registerFeatures } from './features.js';
import { registerImageCommands } from './image-commands.js';
import { parseFastPath } from './fast-path.js';
import { isBundleRun, registerContainerCommands, runImageCommand } from './docker-commands.js';
import { addFlags, lifecycleActions, registerLifecycle } from './lifecycle.js';
import { GLOBAL_FLAGS } from './shapes.js';
import { registerSpec } from './spec.js';
import { VERSION, versionText } from './version.js';

export interface GlobalOptions {
  root: string;
  store?: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug?: boolean;
  systemdCgroup?: boolean;
}

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--store']);
const ALIASES: Record<string, string> = { ls: 'list' };

/** The sub-command argv names, found without commander (whose set-up is a large share of a command's time). */
export function commandName(argv: string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return ALIASES[a] ?? a;
  }
  return undefined;
}

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
    .configureOutput({ writeOut: (s) => fs.writeSync(1, s), writeErr: (s) => fs.writeSync(2, s) })
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(false);
  program.hook('preAction', (thisCommand) => applyGlobals(thisCommand.opts<GlobalOptions>()));
  const matched = { yes: false };
  const target = only ? onlyCommand(program, only, matched) : program;
  registerSpec(target);
  registerLifecycle(target);
  registerCgroupCommands(target);
  registerExec(target);
  registerFeatures(target);
  registerContainerCommands(target);
  registerImageCommands(target);
  // an unknown name: the full program, so commander's message lists the real commands
  if (only && !matched.yes) return buildProgram();
  return program;
}

/** What the global options set up before any command runs. */
function applyGlobals(g: GlobalOptions): void {
  configureLog({ file: g.log, format: g.logFormat, debug: !!g.debug });
  if (g.systemdCgroup && !fs.existsSync('/run/systemd/system'))
    throw new TcrError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs manager');
}

/** Commands that touch no state, store, namespace or cgroup: they work for any user. */
const NEEDS_NO_ROOT = new Set(['spec', 'features', 'help']);

/**
 * Refused up front for a user other than root, instead of failing later on
 * the first file of /run/tcr or /var/lib/tcr it cannot open (rootless use is
 * not built yet).
 */
function requireRoot(argv: string[]): void {
  if (process.getuid?.() === 0) return;
  const name = commandName(argv);
  if (name === undefined || NEEDS_NO_ROOT.has(name) || argv.includes('--help') || argv.includes('-h')) return;
  throw new TcrError(
    `${name}: needs root (uid 0; this is uid ${process.getuid?.()}): it makes namespaces, mounts and cgroups, and keeps its state in /run/tcr and its images in /var/lib/tcr. Run it as root (su -c '...', or sudo where installed); rootless use is not supported yet`,
    name === 'run' || DOCKER_STYLE.has(name) ? 125 : 1,
  );
}

/** docker's commands exit 125 for tcr's own failures; runc's exit 1. */
const DOCKER_STYLE = new Set(['images', 'pull', 'load', 'import', 'rmi', 'ps', 'logs', 'stop', 'rm', 'reap', 'tag']);

export async function main(argv: string[]): Promise<number> {
  try {
    requireRoot(argv);
    const fast = parseFastPath(argv, isBundleRun);
    if (fast) {
      const g = fast.globals as unknown as GlobalOptions;
      applyGlobals(g);
      if (fast.command === 'run' && !fast.bundleRun)
        process.exitCode = await runImageCommand(g, fast.args[0], fast.args.slice(1), fast.opts as never);
      else await (lifecycleActions[fast.command] as (g: GlobalOptions, args: string[], o: unknown) => unknown)(g, fast.args, fast.opts);
    } else {
      await buildProgram(commandName(argv)).parseAsync(argv, { from: 'user' });
    }
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return 1; // commander already printed the message
    log.error(errorMessage(e));
    // an error that is not tcr's own is a bug: its stack helps (also when a TcrError only rewords it)
    const origin = e instanceof TcrError && e.cause !== undefined ? e.cause : e;
    if (!(origin instanceof TcrError)) log.debug((origin as Error).stack ?? '');
    const status = e instanceof TcrError ? e.exitCode : 1;
    // runc's exec exits 255 when exec itself fails (a program not found, a stopped or unknown
    // container), so its caller tells that from the process' own exit status 1
    return status === 1 && commandName(argv) === 'exec' ? 255 : status;
  }
}

export { VERSION };
export { warmUp } from './warm-up.js';
