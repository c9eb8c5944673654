// compose's commands besides up and down: ps, logs (the containers' lines
// merged, each prefixed by its container's name as docker compose does),
// exec and run in a service's container, start/stop/restart, and config
// (the file as tcr understood it).
import fs from 'node:fs';
import { stringify } from 'yaml';
import { TcrError } from '../errors.js';
import { table } from '../cli/table.js';
import { projectContainers, type ProjectContainer } from './containers.js';
import type { Project, Service } from './model.js';
import { LABEL, containerName, runArgs } from './run-args.js';
import { progress } from './report.js';
import { tcr, tcrStream, type Globals } from './tcr-child.js';
import { selectServices, up } from './up.js';
import { randomHex } from '../sys/random.js';

function service(project: Project, name: string): Service {
  const s = project.services.find((x) => x.name === name);
  if (!s) throw new TcrError(`no such service: ${name}`);
  return s;
}

function containersOf(g: Globals, project: Project, services: string[], all = true): ProjectContainer[] {
  for (const s of services) service(project, s);
  return projectContainers(g.root, project.name).filter(
    (c) => (!services.length || services.includes(c.service)) && (all || c.status === 'running' || c.status === 'paused'),
  );
}

function statusText(c: ProjectContainer): string {
  if (c.status === 'stopped') return `exited (${c.exitCode ?? -1})`;
  return c.status;
}

export function ps(
  g: Globals,
  project: Project,
  o: { all?: boolean; quiet?: boolean; services?: boolean; format?: string },
  names: string[],
): string {
  const cs = containersOf(g, project, names, !!o.all);
  if (o.services) return [...new Set(cs.map((c) => c.service))].map((s) => `${s}\n`).join('');
  if (o.quiet) return cs.map((c) => `${c.id}\n`).join('');
  if (o.format === 'json')
    return `${JSON.stringify(
      cs.map((c) => ({
        Name: c.id,
        Service: c.service,
        Image: c.image,
        Command: c.command.join(' '),
        State: c.status === 'stopped' ? 'exited' : c.status,
        ExitCode: c.exitCode ?? 0,
        Publishers: c.hostPorts,
        CreatedAt: c.created,
      })),
    )}\n`;
  if (o.format) throw new TcrError(`--format ${o.format}: compose ps takes table (the default) or json`);
  const rows = [['NAME', 'IMAGE', 'COMMAND', 'SERVICE', 'CREATED', 'STATUS', 'PORTS']];
  for (const c of cs) {
    const cmd = c.command.join(' ');
    rows.push([
      c.id,
      c.image,
      JSON.stringify(cmd.length > 20 ? `${cmd.slice(0, 19)}…` : cmd),
      c.service,
      c.created,
      statusText(c),
      c.hostPorts.join(', '),
    ]);
  }
  return table(rows);
}

/** The containers' logs, each line prefixed by its container's name; with follow, until every one has stopped. */
export async function logs(
  g: Globals,
  project: Project,
  o: { follow?: boolean; timestamps?: boolean; tail?: string; noLogPrefix?: boolean },
  names: string[],
): Promise<void> {
  const cs = containersOf(g, project, names);
  const width = Math.max(0, ...cs.map((c) => c.id.length));
  await Promise.all(
    cs.map(
      (c) =>
        new Promise<void>((resolve) => {
          const args = ['logs', ...(o.follow ? ['-f'] : []), ...(o.timestamps ? ['-t'] : []), ...(o.tail ? ['--tail', o.tail] : []), c.id];
          const child = tcrStream(g, args);
          const prefix = o.noLogPrefix ? '' : `${c.id.padEnd(width)}  | `;
          for (const [stream, fd] of [
            [child.stdout, 1],
            [child.stderr, 2],
          ] as const) {
            let rest = '';
            stream.on('data', (d: Buffer) => {
              const lines = (rest + d.toString()).split('\n');
              rest = lines.pop()!;
              if (lines.length) fs.writeSync(fd, lines.map((l) => `${prefix}${l}\n`).join(''));
            });
            stream.on('end', () => {
              if (rest) fs.writeSync(fd, `${prefix}${rest}\n`);
            });
          }
          child.once('close', () => resolve());
          child.once('error', () => resolve());
        }),
    ),
  );
}

/** A running container of `svc` (replica `index`, 1 by default). */
function replica(g: Globals, project: Project, svc: string, index = 1): ProjectContainer {
  service(project, svc);
  const c = projectContainers(g.root, project.name).find((x) => x.service === svc && x.number === index && !x.oneoff);
  if (!c || (c.status !== 'running' && c.status !== 'paused'))
    throw new TcrError(`service "${svc}" is not running${index > 1 ? ` (replica ${index})` : ''}: tcr compose up -d ${svc}`);
  return c;
}

export interface ExecOptions {
  noTty?: boolean;
  user?: string;
  workdir?: string;
  env: string[];
  index?: string;
  detach?: boolean;
}

/** Resolves with the process' exit status. */
export async function exec(g: Globals, project: Project, svc: string, command: string[], o: ExecOptions): Promise<number> {
  const c = replica(g, project, svc, o.index ? Number(o.index) : 1);
  if (!command.length) throw new TcrError('exec: give the command to run');
  const tty = !o.noTty && !o.detach && process.stdin.isTTY;
  const args = [
    'exec',
    ...(tty ? ['-t'] : []),
    ...(o.detach ? ['-d'] : []),
    ...(o.user ? ['-u', o.user] : []),
    ...(o.workdir ? ['--cwd', o.workdir] : []),
  ];
  for (const e of o.env) args.push('-e', e);
  return (await tcr(g, [...args, c.id, ...command], 'inherit')).code;
}

export interface RunOptions {
  rm?: boolean;
  detach?: boolean;
  name?: string;
  entrypoint?: string;
  user?: string;
  workdir?: string;
  env: string[];
  noDeps?: boolean;
  noTty?: boolean;
  servicePorts?: boolean;
  publish: string[];
}

/** `compose run SERVICE [CMD]`: a one-off container of the service (its dependencies up first), no ports unless asked. */
export async function run(g: Globals, project: Project, svc: string, command: string[], o: RunOptions): Promise<number> {
  const s = service(project, svc);
  if (!o.noDeps) {
    const deps = selectServices(project, [svc]).filter((x) => x.name !== svc);
    if (deps.length)
      await up(g, project, { services: deps.map((d) => d.name), scale: {}, waitTimeout: 120, noRecreate: true, keepExtra: true });
  }
  const one: Service = {
    ...s,
    ports: o.servicePorts ? s.ports : [],
    command: command.length ? command : s.command,
    entrypoint: o.entrypoint !== undefined ? [o.entrypoint] : s.entrypoint,
    user: o.user ?? s.user,
    workingDir: o.workdir ?? s.workingDir,
    containerName: o.name ?? `${project.name}-${svc}-run-${randomHex(6)}`,
    restart: undefined,
    environment: { ...s.environment, ...Object.fromEntries(o.env.map((e) => [e.split('=')[0], e.slice(e.indexOf('=') + 1)])) },
  };
  let args = runArgs(project, one, 1).map((a) => (a === `${LABEL.oneoff}=False` ? `${LABEL.oneoff}=True` : a));
  if (!o.detach) {
    args = args.filter((a, i) => a !== '-d' || i !== 0);
    const tty = !o.noTty && process.stdin.isTTY;
    args = [...(tty ? ['-t', '-i'] : ['-i']), ...args.filter((a) => a !== '-t' && a !== '-i')];
  }
  for (const p of o.publish) args.unshift('-p', p);
  if (o.rm) args.unshift('--rm');
  return (await tcr(g, ['run', ...args], 'inherit')).code;
}

/** start, stop or restart the services' containers. */
export async function lifecycle(
  g: Globals,
  project: Project,
  verb: 'start' | 'stop' | 'restart',
  names: string[],
  timeout?: string,
): Promise<void> {
  const cs = containersOf(g, project, names).filter((c) => !c.oneoff);
  if (verb === 'start' && !cs.length) throw new TcrError('no containers to start: tcr compose up creates them');
  for (const c of cs) {
    const r = await tcr(g, [verb, ...(timeout && verb !== 'start' ? ['-t', timeout] : []), c.id]);
    if (r.code !== 0) throw new TcrError(`container ${c.id}: ${r.stderr.trim()}`);
    progress('Container', c.id, { start: 'Started', stop: 'Stopped', restart: 'Restarted' }[verb]);
  }
}

/** The project as tcr read it, in the file's own vocabulary (docker compose config). */
export function config(project: Project, o: { services?: boolean; volumes?: boolean; quiet?: boolean }): string {
  if (o.quiet) return '';
  if (o.services) return project.services.map((s) => `${s.name}\n`).join('');
  if (o.volumes)
    return Object.keys(project.volumes)
      .map((v) => `${v}\n`)
      .join('');
  const services = Object.fromEntries(
    project.services.map((s) => {
      const { name: _name, replicas, ...rest } = s;
      const given = Object.entries(rest).filter(([, v]) => v !== undefined && v !== false && !isEmpty(v));
      const keys = snakeKeys(Object.fromEntries(given)) as Record<string, unknown>;
      return [
        s.name,
        { ...keys, deploy: { replicas }, container_names: Array.from({ length: replicas }, (_, i) => containerName(project, s, i + 1)) },
      ];
    }),
  );
  return stringify({ name: project.name, services, networks: project.networks, volumes: project.volumes });
}

function isEmpty(v: unknown): boolean {
  return Array.isArray(v) ? v.length === 0 : typeof v === 'object' && v !== null && Object.keys(v).length === 0;
}

/** The model's camelCase keys in compose's snake_case; the names inside user maps (variables, labels, networks) stay. */
function snakeKeys(v: unknown, userMap = false): unknown {
  if (Array.isArray(v)) return v.map((x) => snakeKeys(x));
  if (!v || typeof v !== 'object') return v;
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [
      userMap ? k : k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
      snakeKeys(x, !userMap && ['environment', 'labels', 'sysctls', 'ulimits', 'networks', 'dependsOn'].includes(k)),
    ]),
  );
}
