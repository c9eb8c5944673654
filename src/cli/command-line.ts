// What every tcr command line shares, whichever bundle runs it (the full CLI,
// src/cli/main.ts, or the engine's, src/cli/engine.ts): the global options,
// finding the sub-command's name without commander, docker's `create IMAGE`
// told from runc's `create ID`, and the exit status of a failure.
import fs from 'node:fs';
import { TcrError, errorMessage } from '../errors.js';
import { configureLog, log } from '../log.js';
import { failureStatus, requireRoot } from './cli-errors.js';
import type { FastParse } from './fast-path.js';
import { resolveArgs } from './name-lookup.js';
import { SHAPES } from './shapes.js';
import { setRootlessMode, type RootlessMode } from '../container/rootless.js';

export interface GlobalOptions {
  root: string;
  store?: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug?: boolean;
  systemdCgroup?: boolean;
  rootless?: RootlessMode;
}

/** The global flags that take a value (bin/tcr.cjs keeps the same list: test/unit/engine.test.ts checks it). */
export const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--store', '--rootless']);
const ALIASES: Record<string, string> = { ls: 'list' };

/** The sub-command argv names, found without commander (whose set-up is a large share of a command's time). */
export function commandName(argv: string[]): string | undefined {
  const i = commandIndex(argv);
  return i < 0 ? undefined : (ALIASES[argv[i]] ?? argv[i]);
}

export function commandIndex(argv: string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return i;
  }
  return -1;
}

/** The global --store DIR among `globals`, if given. */
export function storeFlag(globals: string[]): string | undefined {
  const s = globals.indexOf('--store');
  return s >= 0 ? globals[s + 1] : globals.find((a) => a.startsWith('--store='))?.slice('--store='.length);
}

/** docker's `create IMAGE` is `container create IMAGE` (src/cli/create-form.ts); runc's create is left as it is. */
export async function withCreateForm(argv: string[]): Promise<string[]> {
  const i = commandIndex(argv);
  if (i < 0 || argv[i] !== 'create') return argv;
  const globals = argv.slice(0, i);
  const store = storeFlag(globals);
  const { createForm } = await import('./create-form.js');
  if ((await createForm(argv.slice(i + 1), store)) === 'bundle') return argv;
  return [...globals, 'container', ...argv.slice(i)];
}

/** What the global options set up before any command runs. */
export function applyGlobals(g: GlobalOptions): void {
  configureLog({ file: g.log, format: g.logFormat, debug: !!g.debug });
  if (g.rootless) setRootlessMode(g.rootless);
  if (g.systemdCgroup && !fs.existsSync('/run/systemd/system'))
    throw new TcrError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs manager');
}

export type Action = (g: GlobalOptions, args: string[], o: never) => unknown;

/** The global options of a parsed command line, set up, with its container arguments looked up by name. */
export function setUp(fast: FastParse, argv: string[], name: string | undefined): GlobalOptions {
  requireRoot(argv, name);
  const g = fast.globals as unknown as GlobalOptions;
  applyGlobals(g);
  fast.args = resolveArgs(fast.command, g.root, SHAPES[fast.command].args, fast.args);
  return g;
}

/** Runs a command line the fast path parsed, with the action for its command. */
export async function runParsed(fast: FastParse, argv: string[], name: string | undefined, actions: Record<string, Action>): Promise<void> {
  const g = setUp(fast, argv, name);
  await actions[fast.command](g, fast.args, fast.opts as never);
}

/** Reports a command's failure (not commander's: it reports its own) and gives the exit status for it. */
export function reportFailure(e: unknown, argv: string[], name: string | undefined): number {
  log.error(errorMessage(e));
  // an error that is not tcr's own is a bug: its stack helps (also when a TcrError only rewords it)
  const origin = e instanceof TcrError && e.cause !== undefined ? e.cause : e;
  if (!(origin instanceof TcrError)) log.debug((origin as Error).stack ?? '');
  const status = e instanceof TcrError ? e.exitCode : 1;
  // runc's exec exits 255 when exec itself fails (a program not found, a stopped or unknown
  // container), so its caller tells that from the process' own exit status 1
  if (status === 1 && name === 'exec') return 255;
  // run sets its own: 125 for an image run's failures, runc's 1 for a bundle run's
  return name === 'run' ? status : failureStatus(argv, name, status);
}

/** The exit status the command left in process.exitCode, 0 if none. */
export const exitStatus = (): number => (typeof process.exitCode === 'number' ? process.exitCode : 0);
