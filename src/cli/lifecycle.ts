// create, start, run, state, kill, delete, list: runc's lifecycle commands.
import { Command } from 'commander';
import { Runtime } from '../container/runtime.js';
import { TcrError } from '../errors.js';
import { formatPlan } from '../linux/plan.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { addImageRunFlags, isBundleRun, runImageCommand, type ImageRunFlags } from './image-run.js';

interface CreateFlags {
  bundle: string;
  pidFile?: string;
  /** commander turns --no-pivot into pivot: false */
  pivot?: boolean;
  newKeyring?: boolean;
  preserveFds?: string;
  trace?: boolean;
  dryRun?: boolean;
  consoleSocket?: string;
}

function runtimeOf(cmd: Command): Runtime {
  const g = cmd.optsWithGlobals() as GlobalOptions;
  return new Runtime({ root: g.root });
}

function createOptions(o: CreateFlags) {
  const preserve = o.preserveFds === undefined ? 0 : Number(o.preserveFds);
  if (!Number.isInteger(preserve) || preserve < 0) throw new TcrError(`--preserve-fds: ${JSON.stringify(o.preserveFds)} is not a count of fds`);
  return { bundle: o.bundle, pidFile: o.pidFile, noPivot: o.pivot === false, noNewKeyring: o.newKeyring === false, preserveFds: preserve, trace: o.trace, consoleSocket: o.consoleSocket };
}

function addCreateFlags(c: Command): Command {
  return c
    .option('-b, --bundle <dir>', 'bundle directory (config.json and rootfs)', '.')
    .option('--pid-file <file>', 'write the init pid to this file')
    .option('--no-pivot', 'do not use pivot_root (chroot into the rootfs instead)')
    .option('--no-new-keyring', 'keep the session keyring of the runtime')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1) to the container')
    .option('--console-socket <path>', 'unix socket that receives the pty master (terminal containers)')
    .option('--trace', 'print each launch-plan step as the init executes it')
    .option('--dry-run', 'print the launch plan and run nothing');
}

export function registerLifecycle(program: Command): void {
  addCreateFlags(program.command('create').description('create a container; its process waits for `start`').argument('<id>'))
    .action(async (id: string, o: CreateFlags, cmd: Command) => {
      const rt = runtimeOf(cmd);
      if (o.dryRun) return out(formatPlan(await rt.plan(o.bundle, { ...createOptions(o), id })));
      await rt.create(id, createOptions(o));
    });

  program.command('start').description('start the process of a created container').argument('<id>')
    .action((id: string, _o: unknown, cmd: Command) => runtimeOf(cmd).container(id).start());

  const run = program.command('run')
    .description('create and start a container and wait for it: `run [--bundle B] ID` (runc) or `run [flags] IMAGE [CMD...]` (docker)')
    .argument('<id-or-image>').argument('[command...]');
  addImageRunFlags(addCreateFlags(run))
    .option('-d, --detach', 'return once the container runs')
    .option('--keep', 'keep the container recorded after it exits (bundle run)')
    .passThroughOptions()
    .action(async (target: string, command: string[], o: CreateFlags & ImageRunFlags & { keep?: boolean }, cmd: Command) => {
      if (!isBundleRun(cmd, command)) {
        process.exitCode = await runImageCommand(target, command, o, cmd);
        return;
      }
      const rt = runtimeOf(cmd);
      if (command.length) throw new TcrError(`run --bundle ${o.bundle} ${target}: a bundle run takes no command (it is in config.json)`);
      if (o.dryRun) return out(formatPlan(await rt.plan(o.bundle, { ...createOptions(o), id: target })));
      process.exitCode = await rt.run(target, { ...createOptions(o), detach: o.detach, keep: o.keep });
    });

  program.command('state').description('print the OCI state of a container').argument('<id>')
    .action((id: string, _o: unknown, cmd: Command) => out(JSON.stringify(runtimeOf(cmd).container(id).state(), null, '  ') + '\n'));

  program.command('kill').description('send a signal (default SIGTERM) to the container').argument('<id>').argument('[signal]')
    .option('-a, --all', 'signal every process of the container')
    .action((id: string, signal: string | undefined, o: { all?: boolean }, cmd: Command) => runtimeOf(cmd).container(id).kill(signal ?? 'SIGTERM', !!o.all));

  program.command('delete').description('delete containers (and their resources)').argument('<id...>')
    .option('-f, --force', 'kill the container first if it runs')
    .action((ids: string[], o: { force?: boolean }, cmd: Command) => {
      const rt = runtimeOf(cmd);
      for (const id of ids) {
        if (o.force && !rt.store.exists(id) && !rt.store.ids().includes(id)) continue; // runc: force ignores missing
        rt.container(id).delete(!!o.force);
      }
    });

  program.command('list').alias('ls').description('list containers')
    .option('-f, --format <format>', 'table or json', 'table')
    .option('-q, --quiet', 'print only the ids')
    .action((o: { format: string; quiet?: boolean }, cmd: Command) => {
      const list = runtimeOf(cmd).list();
      if (o.quiet) return out(list.map((s) => s.id + '\n').join(''));
      if (o.format === 'json') return out(JSON.stringify(list) + '\n');
      if (o.format !== 'table') throw new TcrError(`--format: ${JSON.stringify(o.format)} is neither table nor json`);
      const rows = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...list.map((s) => [s.id, String(s.pid), s.status, s.bundle, String(s.created), String(s.owner)])];
      const widths = rows[0].map((_, i) => Math.max(12, ...rows.map((r) => r[i].length + 3)));
      out(rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('') + '\n').join(''));
    });
}
