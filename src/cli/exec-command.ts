// `tcr exec`, with runc's flags.
import { Command } from 'commander';
import fs from 'node:fs';
import { execInContainer, processFromFlags } from '../container/exec.js';
import { Runtime } from '../container/runtime.js';
import { TcrError } from '../errors.js';
import { resolveUser } from '../container/passwd.js';
import type { Process } from '../spec/types.js';
import type { GlobalOptions } from './main.js';

const collect = (v: string, prev: string[] = []) => [...prev, v];

interface ExecFlags {
  process?: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  tty?: boolean;
  cwd?: string;
  /** docker's name for --cwd */
  workdir?: string;
  env?: string[];
  user?: string;
  cap?: string[];
  noNewPrivs?: boolean;
  preserveFds?: string;
  apparmor?: string;
  processLabel?: string;
  trace?: boolean;
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a new process inside a running container')
    .argument('<id>')
    .argument('[command...]')
    .option('-p, --process <file>', 'the process as an OCI process JSON file')
    .option('-d, --detach', 'return once the process runs')
    .option('--pid-file <file>', 'write the process pid to this file')
    .option('--console-socket <path>', 'unix socket that receives the pty master')
    .option('-t, --tty', 'give the process a terminal')
    .option('--cwd <dir>', 'working directory in the container')
    .option('-w, --workdir <dir>', "the same as --cwd (docker's name)")
    .option('-i, --interactive', "accepted for docker's exec -i: stdin is always the process's, as runc's exec gives it")
    .option('-e, --env <NAME=value>', 'add an environment variable (repeatable)', collect)
    .option('-u, --user <user[:group]>', "run as this user (uid or name in the container's /etc/passwd) and group")
    .option('-c, --cap <cap>', 'add a capability (repeatable)', collect)
    .option('--no-new-privs', 'set no_new_privs for the process')
    .option('--preserve-fds <n>', 'pass N extra fds (3..3+N-1)')
    .option('--apparmor <profile>', 'AppArmor profile for the process')
    .option('--process-label <label>', 'SELinux label for the process')
    .option('--trace', 'print each launch-plan step')
    .passThroughOptions()
    .action(async (id: string, command: string[], o: ExecFlags, cmd: Command) => {
      const rt = new Runtime({ root: cmd.optsWithGlobals<GlobalOptions>().root });
      const rec = rt.container(id).record();
      let proc: Process;
      if (o.process) {
        try {
          proc = JSON.parse(fs.readFileSync(o.process, 'utf8')) as Process;
        } catch (e) {
          throw new TcrError(`--process ${o.process}: ${(e as Error).message}`);
        }
      } else {
        if (!command.length) throw new TcrError('exec: give a command, or --process FILE');
        // a name is looked up in the container's own /etc/passwd and /etc/group, as run looks up -u in the image's
        const named = o.user !== undefined && !/^\d+(:\d+)?$/.test(o.user);
        const user = named ? resolveUser(o.user, [`/proc/${rec.pid}/root`]) : undefined;
        proc = processFromFlags(rec.config.process!, {
          args: command,
          env: o.env,
          cwd: o.cwd ?? o.workdir,
          user: user ? `${user.uid}:${user.gid}` : o.user,
          cap: o.cap,
          tty: o.tty,
          noNewPrivs: o.noNewPrivs,
          apparmor: o.apparmor,
          processLabel: o.processLabel,
        });
        if (user) proc.user = user;
      }
      const preserve = o.preserveFds === undefined ? 0 : Number(o.preserveFds);
      if (!Number.isInteger(preserve) || preserve < 0)
        throw new TcrError(`--preserve-fds: ${JSON.stringify(o.preserveFds)} is not a count of fds`);
      process.exitCode = await execInContainer(rt.store, id, {
        process: proc,
        detach: o.detach,
        pidFile: o.pidFile,
        consoleSocket: o.consoleSocket,
        preserveFds: preserve,
        trace: o.trace,
      });
    });
}
