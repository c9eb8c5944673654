// `tcr compose up`: networks and volumes first, then each service's
// replicas in dependency order, each dependency's condition met before its
// dependants start (started, healthy, or exited 0). A container whose
// service is unchanged (the config-hash label) is left running; a changed
// one is recreated; replicas beyond --scale are removed.
import crypto from 'node:crypto';
import { TcrError } from '../errors.js';
import { log } from '../log.js';
import { projectContainer, projectContainers, type ProjectContainer } from './containers.js';
import type { Project, Service } from './model.js';
import { startOrder } from './project.js';
import { LABEL, containerName, networksAfterRun, runArgs } from './run-args.js';
import { tcr, type Globals } from './tcr-child.js';
import { progress, stopAndRemove } from './report.js';

export interface UpOptions {
  services: string[];
  scale: Record<string, number>;
  noDeps?: boolean;
  forceRecreate?: boolean;
  noRecreate?: boolean;
  removeOrphans?: boolean;
  /** replicas beyond the file's count stay (compose run's dependencies: started, never rescaled) */
  keepExtra?: boolean;
  /** seconds a dependency may take to become healthy or to exit */
  waitTimeout: number;
}

const CONFIG_HASH = 'com.docker.compose.config-hash';

/** The services `up SERVICE...` touches: those named and, unless --no-deps, what they depend on. */
export function selectServices(project: Project, names: string[], noDeps = false): Service[] {
  const byName = new Map(project.services.map((s) => [s.name, s]));
  for (const n of names) if (!byName.has(n)) throw new TcrError(`no such service: ${n}`);
  if (!names.length) return startOrder(project.services);
  const chosen = new Set<string>();
  const add = (n: string) => {
    if (chosen.has(n) || !byName.has(n)) return;
    chosen.add(n);
    if (noDeps) return;
    const s = byName.get(n)!;
    Object.keys(s.dependsOn).forEach(add);
    if (s.networkMode?.startsWith('service:')) add(s.networkMode.slice(8));
  };
  names.forEach(add);
  return startOrder(project.services).filter((s) => chosen.has(s.name));
}

/** The run arguments with the hash of everything but the replica's own name and number, as a label. */
function hashedArgs(project: Project, s: Service, n: number): { args: string[]; hash: string } {
  const first = runArgs(project, s, 1).filter((a) => a !== `${LABEL.number}=1` && a !== containerName(project, s, 1));
  const hash = crypto.createHash('sha256').update(JSON.stringify(first)).digest('hex');
  const args = runArgs(project, s, n);
  return { args: ['--label', `${CONFIG_HASH}=${hash}`, ...args], hash };
}

async function ensureNetworks(g: Globals, project: Project, services: Service[]): Promise<void> {
  const used = new Set(services.flatMap((s) => Object.keys(s.networks)));
  const have = new Set((await tcr(g, ['network', 'ls', '-q'])).stdout.split('\n'));
  for (const key of used) {
    const n = project.networks[key];
    if (have.has(n.name)) continue;
    if (n.external) throw new TcrError(`network ${n.name} is declared external, but it does not exist (tcr network create ${n.name})`);
    const args = ['network', 'create', ...(n.subnet ? ['--subnet', n.subnet] : []), ...(n.gateway ? ['--gateway', n.gateway] : [])];
    if (n.internal) args.push('--internal');
    for (const [k, v] of Object.entries({ ...n.labels, [LABEL.project]: project.name, [LABEL.network]: key }))
      args.push('--label', `${k}=${v}`);
    const r = await tcr(g, [...args, n.name]);
    if (r.code !== 0) throw new TcrError(`network ${n.name}: ${r.stderr.trim()}`);
    progress('Network', n.name, 'Created');
  }
}

async function ensureVolumes(g: Globals, project: Project, services: Service[]): Promise<void> {
  const used = new Set(services.flatMap((s) => s.volumes.flatMap((v) => (v.type === 'volume' && v.source ? [v.source] : []))));
  const have = new Set((await tcr(g, ['volume', 'ls', '-q'])).stdout.split('\n'));
  for (const key of used) {
    const v = project.volumes[key];
    if (have.has(v.name)) continue;
    if (v.external) throw new TcrError(`volume ${v.name} is declared external, but it does not exist (tcr volume create ${v.name})`);
    const args = ['volume', 'create'];
    for (const [k, val] of Object.entries({ ...v.labels, [LABEL.project]: project.name, [LABEL.volume]: key }))
      args.push('--label', `${k}=${val}`);
    const r = await tcr(g, [...args, v.name]);
    if (r.code !== 0) throw new TcrError(`volume ${v.name}: ${r.stderr.trim()}`);
    progress('Volume', v.name, 'Created');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until each dependency of `s` meets its condition; `known` holds the project's containers as `up` left them so far. */
async function awaitDependencies(g: Globals, s: Service, known: ProjectContainer[], timeout: number): Promise<void> {
  for (const [dep, { condition, required }] of Object.entries(s.dependsOn)) {
    const containers = known.filter((c) => c.service === dep && !c.oneoff);
    if (!containers.length) {
      if (required) throw new TcrError(`dependency ${dep} of ${s.name} has no container`);
      continue;
    }
    if (condition === 'service_started') continue;
    const end = Date.now() + timeout * 1000;
    for (const c of containers) {
      for (;;) {
        if (condition === 'service_completed_successfully') {
          const current = projectContainer(g.root, c.id);
          if (current?.status === 'stopped') {
            if (current.exitCode === 0) break;
            throw new TcrError(
              `service ${dep} didn't complete successfully: container ${c.id} exited ${current.exitCode ?? '(status unknown)'}`,
            );
          }
        } else {
          const r = await tcr(g, ['inspect', '-f', '{{.State.Health.Status}}', c.id]);
          const health = r.stdout.trim();
          if (health === 'healthy') break;
          if (health === 'unhealthy') throw new TcrError(`dependency failed to start: container ${c.id} is unhealthy`);
          if (r.code !== 0 || !health || health === '<no value>')
            throw new TcrError(`service ${s.name} waits for ${dep} to be healthy, but container ${c.id} has no healthcheck`);
        }
        if (Date.now() > end)
          throw new TcrError(`service ${s.name}: ${dep} did not become ${condition.replace('service_', '')} in ${timeout} s`);
        await sleep(500);
      }
      progress('Container', c.id, condition === 'service_healthy' ? 'Healthy' : 'Exited');
    }
  }
}

async function runReplica(
  g: Globals,
  project: Project,
  s: Service,
  n: number,
  existing: ProjectContainer | undefined,
  o: UpOptions,
): Promise<string> {
  const { args, hash } = hashedArgs(project, s, n);
  const name = containerName(project, s, n);
  if (existing && (o.noRecreate || (!o.forceRecreate && existing.labels[CONFIG_HASH] === hash))) {
    if (existing.status === 'running' || existing.status === 'paused') {
      progress('Container', name, 'Running');
      return existing.id;
    }
    const r = await tcr(g, ['start', name]);
    if (r.code !== 0) throw new TcrError(`container ${name}: ${r.stderr.trim()}`);
    progress('Container', name, 'Started');
    return existing.id;
  }
  if (existing) await stopAndRemove(g, [existing.id], s.stopGracePeriod, false);
  const r = await tcr(g, ['run', ...args]);
  if (r.code !== 0) throw new TcrError(`service ${s.name}: container ${name}: ${r.stderr.trim() || `tcr run exited ${r.code}`}`);
  for (const extra of networksAfterRun(project, s)) {
    const c = await tcr(g, ['network', 'connect', ...extra.aliases.flatMap((a) => ['--alias', a]), extra.network, name]);
    if (c.code !== 0) throw new TcrError(`container ${name}: network ${extra.network}: ${c.stderr.trim()}`);
  }
  progress('Container', name, existing ? 'Recreated' : 'Started');
  return name;
}

export async function up(g: Globals, project: Project, o: UpOptions): Promise<void> {
  for (const name of Object.keys(o.scale))
    if (!project.services.some((s) => s.name === name)) throw new TcrError(`--scale ${name}: no such service`);
  const services = selectServices(project, o.services, o.noDeps);
  await ensureNetworks(g, project, services);
  await ensureVolumes(g, project, services);
  const declared = new Set(project.services.map((s) => s.name));
  // read once: from here on, what `up` does to a container is told to this list (each service's turn changes only its own)
  let known = projectContainers(g.root, project.name);
  const orphans = known.filter((c) => !c.oneoff && !declared.has(c.service));
  if (orphans.length && o.removeOrphans)
    await stopAndRemove(
      g,
      orphans.map((c) => c.id),
      undefined,
      false,
    );
  else if (orphans.length)
    log.warn(
      `found orphan containers (${orphans.map((c) => c.id).join(', ')}) for this project: their services are no longer in the file; remove them with --remove-orphans`,
    );
  for (const s of services) {
    await awaitDependencies(g, s, known, o.waitTimeout);
    const mine = known.filter((c) => c.service === s.name && !c.oneoff);
    const count = o.scale[s.name] ?? (o.keepExtra ? Math.max(s.replicas, ...mine.map((c) => c.number)) : s.replicas);
    const now: ProjectContainer[] = [];
    for (let n = 1; n <= count; n++) {
      const id = await runReplica(
        g,
        project,
        s,
        n,
        mine.find((c) => c.number === n),
        o,
      );
      const c = projectContainer(g.root, id);
      if (c) now.push(c);
    }
    known = [...known.filter((c) => !mine.includes(c)), ...now];
    const surplus = mine.filter((c) => c.number > count);
    if (surplus.length)
      await stopAndRemove(
        g,
        surplus.map((c) => c.id),
        s.stopGracePeriod,
        false,
      );
  }
}
