// The tcr command line: runc's commands and flags, each a thin call into the
// library (src/container/runtime.ts). Output goes through fs.writeSync, never
// process.stdout (see src/log.ts).
import { Command, Option } from 'commander';
import fs from 'node:fs';
import { TcrError, errorMessage } from '../errors.js';
import { configureLog, log } from '../log.js';
import { registerCgroupCommands } from './cgroup-commands.js';
import { registerExec } from './exec.js';
import { registerFeatures } from './features.js';
import { registerLifecycle } from './lifecycle.js';
import { registerSpec } from './spec.js';
import { VERSION, versionText } from './version.js';

export interface GlobalOptions {
  root: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug?: boolean;
  systemdCgroup?: boolean;
}

export function buildProgram(): Command {
  const program = new Command('tcr');
  program
    .description('tcr: a runc-compatible OCI container runtime, written in TypeScript')
    .option('--root <dir>', 'directory for container state', '/run/tcr')
    .option('--log <file>', 'write log records to this file (default: stderr only)')
    .addOption(new Option('--log-format <format>', 'log record format').choices(['text', 'json']).default('text'))
    .option('--debug', 'log debug records')
    .option('--systemd-cgroup', 'manage cgroups through systemd (needs a running systemd)')
    .option('-v, --version', 'print the version')
    .configureOutput({ writeOut: (s) => fs.writeSync(1, s), writeErr: (s) => fs.writeSync(2, s) })
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError(false);
  program.hook('preAction', (thisCommand) => {
    const g = thisCommand.opts() as GlobalOptions;
    configureLog({ file: g.log, format: g.logFormat, debug: !!g.debug });
    if (g.systemdCgroup && !fs.existsSync('/run/systemd/system'))
      throw new TcrError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); use the default cgroupfs manager');
  });
  program.action(() => {
    if (program.opts().version) fs.writeSync(1, versionText());
    else program.help();
  });
  registerSpec(program);
  registerLifecycle(program);
  registerCgroupCommands(program);
  registerExec(program);
  registerFeatures(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (code?.startsWith('commander.')) return 1; // commander already printed the message
    log.error(errorMessage(e));
    if (!(e instanceof TcrError)) log.debug((e as Error).stack ?? '');
    return e instanceof TcrError ? e.exitCode : 1;
  }
}

export { VERSION };
