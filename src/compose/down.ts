// `tcr compose down`: the project's containers (found by label, so also
// those of a `up` that was killed half-way), then its networks, and with -v
// its named volumes and the containers' anonymous ones. External networks
// and volumes are the user's: never removed.
import { log } from '../log.js';
import { projectContainers } from './containers.js';
import type { Project } from './model.js';
import { progress, stopAndRemove } from './report.js';
import { tcr, type Globals } from './tcr-child.js';

export interface DownOptions {
  volumes?: boolean;
  removeOrphans?: boolean;
  timeout?: number;
}

export async function down(g: Globals, project: Project, o: DownOptions): Promise<void> {
  const known = new Set(project.services.map((s) => s.name));
  const all = projectContainers(g.root, project.name);
  const containers = all.filter((c) => c.oneoff || known.has(c.service) || o.removeOrphans);
  const orphans = all.filter((c) => !containers.includes(c));
  if (orphans.length)
    log.warn(
      `orphan containers stay (${orphans.map((c) => c.id).join(', ')}): their services are no longer in the file; remove them with --remove-orphans`,
    );
  await stopAndRemove(
    g,
    containers.map((c) => c.id),
    o.timeout,
    !!o.volumes,
  );
  const have = new Set((await tcr(g, ['network', 'ls', '-q'])).stdout.split('\n'));
  for (const n of Object.values(project.networks)) {
    if (n.external || !have.has(n.name)) continue;
    const r = await tcr(g, ['network', 'rm', n.name]);
    if (r.code !== 0) log.warn(`network ${n.name} stays: ${r.stderr.trim()}`);
    else progress('Network', n.name, 'Removed');
  }
  if (!o.volumes) return;
  const vols = new Set((await tcr(g, ['volume', 'ls', '-q'])).stdout.split('\n'));
  for (const v of Object.values(project.volumes)) {
    if (v.external || !vols.has(v.name)) continue;
    const r = await tcr(g, ['volume', 'rm', v.name]);
    if (r.code !== 0) log.warn(`volume ${v.name} stays: ${r.stderr.trim()}`);
    else progress('Volume', v.name, 'Removed');
  }
}
