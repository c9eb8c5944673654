// The two pencil factories of the soa lab, made from the same scripts
// (examples/pencil-factory): the services, a copy of the example brought up
// with `tcr compose` under a project name of the lab's own, and the monolith,
// one container whose single httpd runs the lead and case scripts as programs
// instead of asking other containers for them over the network.
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../sys/package-root.js';
import type { LabContext } from './lab.js';
import { containerCgroup, type ContainerCgroup } from './cgroup-counters.js';
import type { LabContainers } from './lab-containers.js';

export const SERVICES = ['gateway', 'assembly', 'lead', 'case'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** The monolith's one CGI: the assembly's answer, its parts made by the example's own scripts in the same container. */
const MONOLITH_PENCIL = `#!/bin/sh
# the whole factory in one process tree: the lead and case scripts run here, no request leaves the container
printf 'Content-Type: text/plain\\r\\n\\r\\n'
part() { "/www/cgi-bin/$1" | sed 1,2d; }
lead=$(part lead)
case=$(part case)
echo "a pencil: $lead in a $case, assembled by $(hostname)"
`;

/** The monolith gets what the four services get together (each: 0.25 CPU, 32 MiB, 64 pids in the example's compose.yaml). */
export const MONOLITH_LIMITS = ['--cpus', '1', '-m', '128m', '--pids-limit', '256'];

export interface Replica {
  service: ServiceName;
  name: string;
  cgroup: ContainerCgroup;
}

export class ServicesFactory {
  readonly project: string;
  readonly dir: string;
  private readonly envFile: string;
  private started = false;
  /** set by down: a lab stopped by a signal starts nothing after its cleanup */
  private closed = false;

  constructor(
    private readonly ctx: LabContext,
    tag: string,
    readonly port: number,
  ) {
    this.project = `lab-soa-${tag}`;
    this.dir = path.join(ctx.scratch, 'pencil-factory');
    this.envFile = path.join(ctx.scratch, 'factory.env');
    fs.cpSync(path.join(packageRoot(), 'examples', 'pencil-factory'), this.dir, { recursive: true });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/cgi-bin/pencil`;
  }

  private compose(args: string[], timeoutMs = 240_000) {
    const file = path.join(this.dir, 'compose.yaml');
    return this.ctx.tcr(['compose', '-p', this.project, '-f', file, '--env-file', this.envFile, ...args], { timeoutMs });
  }

  /** `up -d --scale lead=N`, each lead taking `leadMs` (LEAD_MS); a changed LEAD_MS recreates the lead replicas. */
  async up(leads: number, leadMs: number): Promise<void> {
    if (this.closed) throw new Error(`tcr compose -p ${this.project}: the lab is stopping, nothing more is started`);
    fs.writeFileSync(this.envFile, `PENCIL_PORT=${this.port}\nLEAD_MS=${leadMs}\n`);
    this.started = true;
    const r = await this.compose(['up', '-d', '--scale', `lead=${leads}`]);
    if (r.status !== 0) throw new Error(`tcr compose -p ${this.project} up -d --scale lead=${leads}: exit ${r.status}: ${r.stderr.trim()}`);
  }

  /** The running replicas, with their cgroups' counters. */
  async replicas(): Promise<Replica[]> {
    const names = (await this.compose(['ps', '-q'])).stdout.split('\n').filter(Boolean);
    const found: Replica[] = [];
    for (const name of names) {
      const service = SERVICES.find((s) => name.startsWith(`${this.project}-${s}-`));
      if (!service) continue;
      const pid = Number((await this.ctx.tcr(['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim());
      if (!(pid > 0)) throw new Error(`${name}: not running`);
      found.push({ service, name, cgroup: containerCgroup(pid) });
    }
    return found;
  }

  /** Leads each replica says it made: one "lead made for" line in its log per lead (health checks make none). */
  async leadsLogged(name: string): Promise<number> {
    const r = await this.ctx.tcr(['logs', name]);
    return `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.startsWith('lead made for ')).length;
  }

  /** `compose down` of the lab's project (its containers by label, its network); never throws, so it can run in a finally. */
  async down(): Promise<void> {
    this.closed = true;
    if (!this.started) return;
    this.started = false;
    await this.compose(['down', '-v', '--remove-orphans', '-t', '2'], 120_000).catch(() => undefined);
  }
}

/** The monolith's web root: the example's lead and case scripts beside the monolith's pencil. */
export function monolithRoot(ctx: LabContext): string {
  const root = path.join(ctx.scratch, 'monolith');
  const cgi = path.join(root, 'cgi-bin');
  fs.mkdirSync(cgi, { recursive: true });
  const example = path.join(packageRoot(), 'examples', 'pencil-factory');
  fs.copyFileSync(path.join(example, 'lead', 'cgi-bin', 'lead'), path.join(cgi, 'lead'));
  fs.copyFileSync(path.join(example, 'case', 'cgi-bin', 'case'), path.join(cgi, 'case'));
  fs.writeFileSync(path.join(cgi, 'pencil'), MONOLITH_PENCIL);
  for (const f of ['lead', 'case', 'pencil']) fs.chmodSync(path.join(cgi, f), 0o755);
  return root;
}

/** One busybox httpd serving the whole pencil on `port`, with the four services' limits added up. */
export async function startMonolith(ctx: LabContext, containers: LabContainers, port: number) {
  const root = monolithRoot(ctx);
  const name = containers.nameFor('soa-monolith');
  const c = await containers.start('soa-monolith', [
    ...MONOLITH_LIMITS,
    '-h',
    name,
    '-v',
    `${root}:/www:ro`,
    '-p',
    `127.0.0.1:${port}:80`,
    'busybox',
    'httpd',
    '-f',
    '-p',
    '80',
    '-h',
    '/www',
  ]);
  return { ...c, url: `http://127.0.0.1:${port}/cgi-bin/pencil` };
}
