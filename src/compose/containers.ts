// The containers of a compose project, found as docker compose finds them:
// by their com.docker.compose.project label, read from the state records
// (no child process per container).
import { Runtime } from '../container/runtime.js';
import { readExitRecord } from '../container/exit-record.js';
import { deriveStatus, type Status } from '../container/status.js';
import { runNote } from '../run/inspect.js';
import { LABEL } from './run-args.js';

export interface ProjectContainer {
  id: string;
  service: string;
  number: number;
  oneoff: boolean;
  status: Status;
  /** the exit status when it stopped and one was recorded */
  exitCode?: number;
  image: string;
  command: string[];
  created: string;
  labels: Record<string, string>;
  hostPorts: string[];
}

export function projectContainers(root: string | undefined, project: string): ProjectContainer[] {
  const rt = new Runtime({ root });
  const found: ProjectContainer[] = [];
  for (const id of rt.store.ids()) {
    let rec;
    try {
      rec = rt.store.read(id);
    } catch {
      continue; // a create in progress or one that crashed: not yet anyone's
    }
    const labels = runNote(rec)?.labels ?? {};
    if (labels[LABEL.project] !== project) continue;
    const status = deriveStatus(rec, rt.store);
    found.push({
      id,
      service: labels[LABEL.service] ?? '',
      number: Number(labels[LABEL.number] ?? 0),
      oneoff: labels[LABEL.oneoff] === 'True',
      status,
      exitCode: status === 'stopped' ? readExitRecord(rt.store.dir(id))?.code : undefined,
      image: rec.annotations?.['dev.tcr.image'] ?? '',
      command: rec.config.process?.args ?? [],
      created: rec.created,
      labels,
      hostPorts: (rec.network?.portMappings ?? []).map((p) => `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`),
    });
  }
  return found.sort((a, b) => a.service.localeCompare(b.service) || a.number - b.number);
}
