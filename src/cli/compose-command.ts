// `tcr compose`: docker compose's commands over src/compose/. Its own
// failures exit 1 as docker compose's do; exec and run exit with the
// process' status.
import type { Command } from 'commander';
import { TcrError, errorMessage } from '../errors.js';
import { out } from '../log.js';
import type { GlobalOptions } from './main.js';

interface ComposeFlags {
  file: string[];
  projectName?: string;
  envFile?: string;
  projectDirectory?: string;
}

const collect = (v: string, prev: string[]) => [...prev, v];

async function load(cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions & ComposeFlags>();
  const { loadProject } = await import('../bundles/compose.js');
  const project = loadProject({ files: g.file, projectName: g.projectName, envFile: g.envFile, cwd: g.projectDirectory });
  return { g: { root: g.root, store: g.store }, project };
}

/** Runs `fn`, turning a failure into compose's message and exit status 1. */
function composeAction<A extends unknown[]>(fn: (...a: A) => Promise<number | void>) {
  return async (...a: A) => {
    try {
      const code = await fn(...a);
      if (typeof code === 'number') process.exitCode = code;
    } catch (e) {
      throw new TcrError(errorMessage(e), 1, { cause: e });
    }
  };
}

function scaleOf(list: string[]): Record<string, number> {
  const scale: Record<string, number> = {};
  for (const s of list) {
    const m = /^([^=]+)=(\d+)$/.exec(s);
    if (!m) throw new TcrError(`--scale ${s}: expected SERVICE=NUMBER`);
    scale[m[1]] = Number(m[2]);
  }
  return scale;
}

export function registerComposeCommand(program: Command): void {
  const compose = program
    .command('compose')
    .description('run a multi-container application from compose.yaml (docker compose)')
    .option('-f, --file <file>', 'compose file (repeatable; default compose.yaml here or above)', collect, [])
    .option('-p, --project-name <name>', 'project name (default: the directory name)')
    .option('--env-file <file>', 'variables for interpolation (default: .env beside the file)')
    .option('--project-directory <dir>', 'where to look for the file')
    .enablePositionalOptions();

  compose
    .command('up')
    .description('create and start the services (in the foreground, following their logs, unless -d)')
    .argument('[services...]')
    .option('-d, --detach', 'start them and return')
    .option('--scale <service=n>', 'run N replicas of a service (repeatable)', collect, [])
    .option('--no-deps', "don't start the services' dependencies")
    .option('--force-recreate', 'recreate containers even when unchanged')
    .option('--no-recreate', 'keep existing containers even when changed')
    .option('--remove-orphans', 'remove containers of services no longer in the file')
    .option('--abort-on-container-exit', 'stop everything when one container stops (foreground only)')
    .option('--exit-code-from <service>', "exit with this service's status (implies --abort-on-container-exit)")
    .option('--wait-timeout <seconds>', 'how long a dependency may take to be healthy or done', '120')
    .action(
      composeAction(async (services: string[], o: Record<string, unknown>, cmd: Command) => {
        const { g, project } = await load(cmd);
        const { up } = await import('../bundles/compose.js');
        await up(g, project, {
          services,
          scale: scaleOf(o.scale as string[]),
          noDeps: o.deps === false,
          forceRecreate: !!o.forceRecreate,
          noRecreate: o.recreate === false,
          removeOrphans: !!o.removeOrphans,
          waitTimeout: Number(o.waitTimeout),
        });
        if (o.detach) return;
        const { attached } = await import('../bundles/compose.js');
        return attached(g, project, {
          services,
          abortOnExit: !!o.abortOnContainerExit || !!o.exitCodeFrom,
          exitCodeFrom: o.exitCodeFrom as string | undefined,
        });
      }),
    );

  compose
    .command('down')
    .description("stop and remove the project's containers and networks (-v: and its volumes)")
    .option('-v, --volumes', 'remove the named volumes of the file and the anonymous ones of the containers')
    .option('--remove-orphans', 'remove containers of services no longer in the file too')
    .option('-t, --timeout <seconds>', 'seconds before SIGKILL', '10')
    .action(
      composeAction(async (o: { volumes?: boolean; removeOrphans?: boolean; timeout: string }, cmd: Command) => {
        const { g, project } = await load(cmd);
        const { down } = await import('../bundles/compose.js');
        await down(g, project, { volumes: o.volumes, removeOrphans: o.removeOrphans, timeout: Number(o.timeout) });
      }),
    );

  compose
    .command('ps')
    .description("list the project's containers")
    .argument('[services...]')
    .option('-a, --all', 'stopped ones too')
    .option('-q, --quiet', 'only the names')
    .option('--services', 'only the service names')
    .option('--format <format>', 'table or json')
    .action(
      composeAction(async (names: string[], o: Record<string, string | boolean>, cmd: Command) => {
        const { g, project } = await load(cmd);
        out((await import('../bundles/compose.js')).ps(g, project, o, names));
      }),
    );

  compose
    .command('logs')
    .description("print the services' output, each line prefixed by its container")
    .argument('[services...]')
    .option('-f, --follow', 'keep printing until the containers stop')
    .option('-t, --timestamps', 'show timestamps')
    .option('-n, --tail <n>', 'lines from the end of each log')
    .option('--no-log-prefix', "don't prefix lines with the container's name")
    .option('--no-color', 'no colours (tcr prints none)')
    .action(
      composeAction(
        async (names: string[], o: { follow?: boolean; timestamps?: boolean; tail?: string; logPrefix?: boolean }, cmd: Command) => {
          const { g, project } = await load(cmd);
          await (await import('../bundles/compose.js')).logs(g, project, { ...o, noLogPrefix: o.logPrefix === false }, names);
        },
      ),
    );

  compose
    .command('exec')
    .description("run a command in a service's running container")
    .argument('<service>')
    .argument('<command...>')
    .option('-T, --no-TTY', 'no terminal (the default when stdin is not one)')
    .option('-d, --detach', 'run it in the background')
    .option('-u, --user <user>', 'run as this user')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-e, --env <k=v>', 'set a variable (repeatable)', collect, [])
    .option('--index <n>', 'which replica (default 1)')
    .passThroughOptions()
    .action(
      composeAction(async (svc: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
        const { g, project } = await load(cmd);
        return (await import('../bundles/compose.js')).exec(g, project, svc, command, {
          noTty: o.TTY === false,
          detach: !!o.detach,
          user: o.user as string | undefined,
          workdir: o.workdir as string | undefined,
          env: o.env as string[],
          index: o.index as string | undefined,
        });
      }),
    );

  compose
    .command('run')
    .description('run a one-off container of a service')
    .argument('<service>')
    .argument('[command...]')
    .option('--rm', 'remove it when it exits')
    .option('-d, --detach', 'in the background')
    .option('--name <name>', 'its name')
    .option('--entrypoint <cmd>', 'override the entrypoint')
    .option('-u, --user <user>', 'run as this user')
    .option('-w, --workdir <dir>', 'working directory')
    .option('-e, --env <k=v>', 'set a variable (repeatable)', collect, [])
    .option('-p, --publish <port>', 'publish a port (repeatable)', collect, [])
    .option('--service-ports', "publish the service's ports")
    .option('--no-deps', "don't start the dependencies")
    .option('-T, --no-TTY', 'no terminal')
    .passThroughOptions()
    .action(
      composeAction(async (svc: string, command: string[], o: Record<string, unknown>, cmd: Command) => {
        const { g, project } = await load(cmd);
        return (await import('../bundles/compose.js')).run(g, project, svc, command, {
          rm: !!o.rm,
          detach: !!o.detach,
          name: o.name as string | undefined,
          entrypoint: o.entrypoint as string | undefined,
          user: o.user as string | undefined,
          workdir: o.workdir as string | undefined,
          env: o.env as string[],
          publish: o.publish as string[],
          servicePorts: !!o.servicePorts,
          noDeps: o.deps === false,
          noTty: o.TTY === false,
        });
      }),
    );

  for (const verb of ['start', 'stop', 'restart'] as const) {
    const c = compose.command(verb).description(`${verb} the services' containers`).argument('[services...]');
    if (verb !== 'start') c.option('-t, --timeout <seconds>', 'seconds before SIGKILL');
    c.action(
      composeAction(async (names: string[], o: { timeout?: string }, cmd: Command) => {
        const { g, project } = await load(cmd);
        await (await import('../bundles/compose.js')).lifecycle(g, project, verb, names, o.timeout);
      }),
    );
  }

  compose
    .command('config')
    .description('check the file and print it as tcr understood it')
    .option('-q, --quiet', 'only check')
    .option('--services', 'print the service names')
    .option('--volumes', 'print the volume names')
    .action(
      composeAction(async (o: { quiet?: boolean; services?: boolean; volumes?: boolean }, cmd: Command) => {
        const { project } = await load(cmd);
        out((await import('../bundles/compose.js')).config(project, o));
      }),
    );
}
