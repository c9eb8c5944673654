// docker's read-only container commands: inspect (and `container inspect`),
// wait and port. A container that is not there is named on stderr and the
// others are still done; the exit status is then 1, as docker's.
import { Command } from 'commander';
import path from 'node:path';
import { Runtime } from '../container/runtime.js';
import { readExitRecord, type ExitRecord } from '../container/exit-record.js';
import { TcrError } from '../errors.js';
import { log, out } from '../log.js';
import { native } from '../sys/native.js';
import type { GlobalOptions } from './main.js';
import { applyTemplate } from './go-template.js';
import { nameOf } from '../container/names.js';

function runtimeOf(cmd: Command): { rt: Runtime; g: GlobalOptions } {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  return { rt: new Runtime({ root: g.root, systemdCgroup: g.systemdCgroup }), g };
}

function missing(what: string, id: string): void {
  log.error(`No such ${what}: ${id}`);
  process.exitCode = 1;
}

async function storeRoot(g: GlobalOptions): Promise<string> {
  const { ImageStore } = await import('../image/store.js');
  return new ImageStore({ root: g.store }).root;
}

/**
 * The exit record of a stopped container. A foreground run or the monitor
 * of a detached one writes it just after its wait for the init returned, so
 * it may be a moment behind the init's end.
 */
async function exitRecord(rt: Runtime, id: string): Promise<ExitRecord | undefined> {
  const { runNote } = await import('../run/inspect.js');
  const end = Date.now() + 5000;
  for (;;) {
    const exit = readExitRecord(rt.store.dir(id));
    if (exit || !rt.store.exists(id) || Date.now() > end) return exit;
    const note = runNote(rt.container(id).record());
    // run -d: its monitor writes it once the last of the output is logged, unless it was killed
    const { monitorAlive } = await import('../run/monitor-files.js');
    if (!note || (note.detached && !monitorAlive(rt.store.dir(id)))) return undefined;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function inspectAction(ids: string[], o: { format?: string }, cmd: Command): Promise<void> {
  const { rt, g } = runtimeOf(cmd);
  const { inspectContainer } = await import('../run/inspect.js');
  const store = await storeRoot(g);
  const volumesRoot = path.join(store, 'volumes');
  const { monitorView } = await import('../run/monitor-files.js');
  const found: Record<string, unknown>[] = [];
  for (const id of ids) {
    if (!rt.store.exists(id)) {
      missing('object', id);
      continue;
    }
    const c = rt.container(id);
    const monitor = monitorView(path.join(store, 'containers', id));
    found.push(
      inspectContainer({
        ...{ rec: c.record(), status: c.status(), exit: readExitRecord(rt.store.dir(id)), volumesRoot, monitor },
        name: nameOf(rt.store.root, id),
      }),
    );
  }
  if (o.format === undefined || o.format === 'json') out(JSON.stringify(found, null, 4) + '\n');
  else for (const v of found) out(applyTemplate(o.format, v) + '\n');
}

function addInspect(c: Command): Command {
  return c
    .description('print containers in the shape of docker inspect')
    .argument('<id...>')
    .option('-f, --format <template>', "a Go template such as '{{.State.Status}}' or '{{json .Config}}', or json")
    .action(inspectAction);
}

export function registerInspectCommands(program: Command): void {
  addInspect(program.command('inspect'));
  const container = program.command('container').description("docker's container commands");
  addInspect(container.command('inspect'));

  program
    .command('wait')
    .description("wait for containers to stop, then print each one's exit status")
    .argument('<id...>')
    .action(async (ids: string[], _o: unknown, cmd: Command) => {
      const { rt } = runtimeOf(cmd);
      for (const id of ids) {
        if (!rt.store.exists(id)) {
          missing('container', id);
          continue;
        }
        const c = rt.container(id);
        // status() compares the init's start time: a reused pid reads as stopped
        const running = () => {
          try {
            return c.status() !== 'stopped';
          } catch (e) {
            if (rt.store.exists(id)) throw e;
            return false; // removed meanwhile (a -d --rm container's reaper, tcr rm)
          }
        };
        while (running()) await native().waitExitAsync(c.record().pid);
        const exit = await exitRecord(rt, id);
        if (!exit)
          log.warn(
            `container ${id} stopped, but no tcr process waited for it (its monitor was killed?): its exit status is unknown, printed as -1`,
          );
        out(`${exit?.code ?? -1}\n`);
      }
    });

  program
    .command('port')
    .description("print a container's published ports (PRIVATE[/PROTO]: only that one's host addresses)")
    .argument('<id>')
    .argument('[private]')
    .action(async (id: string, priv: string | undefined, _o: unknown, cmd: Command) => {
      const { rt } = runtimeOf(cmd);
      if (!rt.store.exists(id)) return missing('container', id);
      const { portLines, publishedPorts } = await import('../run/inspect.js');
      const { deriveStatus } = await import('../container/status.js');
      if (priv !== undefined && !/^\d+(\/(tcp|udp))?$/.test(priv))
        throw new TcrError(`${JSON.stringify(priv)}: not a port (PORT or PORT/tcp|udp)`);
      const rec = rt.container(id).record();
      const lines = portLines(publishedPorts(rec, deriveStatus(rec, rt.store)), priv);
      if (priv !== undefined && !lines.length) {
        log.error(`No public port '${priv.includes('/') ? priv : `${priv}/tcp`}' published for ${id}`);
        process.exitCode = 1;
      }
      for (const l of lines) out(`${l}\n`);
    });
}
