// The containers of a compose project, found as docker compose finds them:
// by their com.docker.compose.project label, read from the state records
// (no child process per container).
import { resolveContainer } from '../container/names.js';
import { Runtime } from '../container/runtime.js';
import { readExitRecord } from '../container/exit-record.js';
import { deriveStatus, type Status } from '../container/status.js';
import { publishedPorts, runNote } from '../run/inspect.js';
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
    const c = describe(rt, id, project);
    if (c) found.push(c);
  }
  return found.sort((a, b) => a.service.localeCompare(b.service) || a.number - b.number);
}

/** One container of a project, by its name or id: what `up` learns of a container it just made, or polls. */
export function projectContainer(root: string | undefined, ref: string): ProjectContainer | undefined {
  const rt = new Runtime({ root });
  return describe(rt, resolveContainer(rt.store.root, ref));
}

/** undefined too for a container of another project than `project`, when that is given */
function describe(rt: Runtime, id: string, project?: string): ProjectContainer | undefined {
  let rec;
  try {
    rec = rt.store.read(id);
  } catch {
    return undefined; // a create in progress or one that crashed: not yet anyone's
  }
  const labels = runNote(rec)?.labels ?? {};
  if (project !== undefined && labels[LABEL.project] !== project) return undefined;
  const status = deriveStatus(rec, rt.store);
  return {
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
    hostPorts: publishedPorts(rec, status).map((p) => `${p.hostIP ?? '0.0.0.0'}:${p.hostPort}->${p.containerPort}/${p.protocol}`),
  };
}
