// `tcr ps` without an id: the containers as docker lists them, newest
// first, with docker's flags (-a, -q, -n, -l, -s, --no-trunc, --filter,
// --format). Image containers and bundle-run ones alike; runc's `ps ID`
// (the processes of one container) shares the command (cgroup-commands.ts).
import { TcrError } from '../errors.js';
import { Runtime } from '../container/runtime.js';
import type { GlobalOptions } from './main.js';
import { containerView, formatFields, withSize, type ContainerView } from './container-view.js';
import { filterPredicate, parseFilters } from './ps-filters.js';
import { renderList, type Item } from './list-format.js';

export interface DockerPsFlags {
  all?: boolean;
  quiet?: boolean;
  last?: string;
  latest?: boolean;
  size?: boolean;
  /** --no-trunc sets it false */
  trunc?: boolean;
  filter: string[];
  format?: string;
}

const HEADERS: Record<string, string> = {
  ID: 'CONTAINER ID',
  Image: 'IMAGE',
  Command: 'COMMAND',
  CreatedAt: 'CREATED AT',
  RunningFor: 'CREATED',
  Ports: 'PORTS',
  State: 'STATE',
  Status: 'STATUS',
  Size: 'SIZE',
  Names: 'NAMES',
  Labels: 'LABELS',
  Mounts: 'MOUNTS',
  Networks: 'NETWORKS',
  LocalVolumes: 'LOCAL VOLUMES',
};

function headerOf(field: string, arg?: string): string {
  if (field === 'Label') return (arg ?? '').replace(/[-_]/g, ' ').split('.').pop()!.toUpperCase();
  return HEADERS[field] ?? field.toUpperCase();
}

const DEFAULT_TABLE = 'table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';

function lastCount(o: DockerPsFlags): number | undefined {
  if (o.latest) return 1;
  if (o.last === undefined) return undefined;
  if (!/^-?\d+$/.test(o.last)) throw new TcrError(`--last: ${JSON.stringify(o.last)} is not a number`);
  const n = Number(o.last);
  return n > 0 ? n : undefined; // docker: -n -1 (its default) and 0 mean no limit
}

/** Every recorded container as a view, newest first. */
export function allViews(rt: Runtime, storeRoot: string): ContainerView[] {
  const views: ContainerView[] = [];
  for (const id of rt.store.ids()) {
    try {
      const c = rt.container(id);
      const rec = c.record();
      views.push(containerView(rt, rec, c.status(), storeRoot));
    } catch {
      // a create in progress (no record yet) or a container removed meanwhile
    }
  }
  return views.sort((a, b) => b.created.getTime() - a.created.getTime() || a.id.localeCompare(b.id));
}

export async function dockerPs(g: GlobalOptions, o: DockerPsFlags): Promise<string> {
  if (o.format !== undefined && o.format.trim() === '') o = { ...o, format: undefined };
  const filters = parseFilters(o.filter);
  const limit = lastCount(o);
  const { ImageStore } = await import('../image/store.js');
  const store = new ImageStore({ root: g.store });
  const rt = new Runtime({ root: g.root });
  const all = allViews(rt, store.root);
  const keep = filterPredicate(filters, { all, imageIdOf: (ref) => store.resolve(ref)?.configDigest });
  // docker: stopped ones only with -a, -n/-l, or a status filter
  const everything = o.all || limit !== undefined || filters.has('status');
  let views = all.filter((v) => (everything || v.status !== 'stopped') && keep(v));
  if (limit !== undefined) views = views.slice(0, limit);
  if (o.quiet) return views.map((v) => `${v.id}\n`).join('');
  const format = o.format ?? DEFAULT_TABLE + (o.size ? '\t{{.Size}}' : '');
  const wantsSize = o.size || format.includes('.Size') || format === 'json';
  if (wantsSize) views = views.map((v) => withSize(v, store.root, (digest) => store.get(digest)?.size ?? 0));
  const now = Date.now();
  const items: Item[] = views.map((v) => {
    const f = formatFields(v, o.trunc !== false, now);
    if (format === 'json') return f;
    return { ...f, Label: (k: string) => v.labels[k] ?? '' };
  });
  const sample = { ...formatFields(all[0] ?? placeholder(), true, now), Label: () => '' };
  return renderList(format === 'table' ? DEFAULT_TABLE : format, items, headerOf, sample);
}

/** The fields' names only matter for a header when there is no container at all. */
function placeholder(): ContainerView {
  return { id: '', image: '', args: [], created: new Date(), status: 'created', ports: [], labels: {}, network: '', mounts: [] };
}
