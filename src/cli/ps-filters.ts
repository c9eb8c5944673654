// `tcr ps --filter KEY=VALUE`, as docker reads them: values of one key are
// alternatives (any may match), different keys must all match, and every
// label filter must match. A status filter lists stopped containers without
// -a, as docker's does.
import { TcrError } from '../errors.js';
import type { ContainerView } from './container-view.js';
import { dockerState } from './container-view.js';

const KEYS = ['id', 'name', 'status', 'label', 'ancestor', 'exited', 'before', 'since', 'network', 'volume'] as const;
type Key = (typeof KEYS)[number];
const STATES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export type Filters = Map<Key, string[]>;

export function parseFilters(specs: string[]): Filters {
  const f: Filters = new Map();
  for (const s of specs) {
    const i = s.indexOf('=');
    if (i <= 0) throw new TcrError(`--filter ${JSON.stringify(s)}: bad format of filter (expected name=value)`);
    const key = s.slice(0, i).toLowerCase();
    const value = s.slice(i + 1);
    if (!(KEYS as readonly string[]).includes(key)) throw new TcrError(`--filter: invalid filter '${key}' (known: ${KEYS.join(', ')})`);
    if (key === 'status' && !STATES.includes(value))
      throw new TcrError(`--filter: invalid filter 'status=${value}' (one of ${STATES.join(', ')})`);
    if (key === 'exited' && !/^-?\d+$/.test(value)) throw new TcrError(`--filter: invalid filter 'exited=${value}': not an exit code`);
    f.set(key as Key, [...(f.get(key as Key) ?? []), value]);
  }
  return f;
}

/** docker matches id= and name= as regular expressions (a bad one matches as plain text). */
function matches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return text.includes(pattern);
  }
}

export interface FilterContext {
  /** every container, for before= and since= */
  all: ContainerView[];
  /** the config digest an ancestor= value names, if the store has such an image */
  imageIdOf: (ref: string) => string | undefined;
}

function createdOf(ctx: FilterContext, ref: string, key: string): number {
  const c = ctx.all.find((v) => v.id === ref) ?? ctx.all.find((v) => v.id.startsWith(ref));
  if (!c) throw new TcrError(`--filter ${key}=${ref}: no such container`);
  return c.created.getTime();
}

/** A predicate for the filters: all keys must match, any value of one (label: every value). */
export function filterPredicate(f: Filters, ctx: FilterContext): (v: ContainerView) => boolean {
  const tests: ((v: ContainerView) => boolean)[] = [];
  const any = (key: Key, test: (value: string, v: ContainerView) => boolean) => {
    const values = f.get(key);
    if (values) tests.push((v) => values.some((value) => test(value, v)));
  };
  any('id', (value, v) => matches(value, v.id));
  // docker matches against "/NAME"; tcr against both, so ^NAME works as podman's does
  any('name', (value, v) => matches(value, v.name ?? v.id) || matches(value, `/${v.name ?? v.id}`));
  any('status', (value, v) => dockerState(v.status) === value);
  any('exited', (value, v) => v.status === 'stopped' && v.exit?.code === Number(value));
  any('network', (value, v) => v.network === value);
  any('volume', (value, v) => v.mounts.some((m) => m.name === value || m.source === value));
  any('ancestor', (value, v) => {
    const id = ctx.imageIdOf(value);
    if (id !== undefined) return v.imageId === id;
    return (
      v.image === value ||
      (!!v.imageId && /^(sha256:)?[0-9a-f]{3,64}$/.test(value) && v.imageId.slice(7).startsWith(value.replace(/^sha256:/, '')))
    );
  });
  for (const value of f.get('label') ?? []) {
    const i = value.indexOf('=');
    tests.push((v) => (i < 0 ? value in v.labels : v.labels[value.slice(0, i)] === value.slice(i + 1)));
  }
  for (const ref of f.get('before') ?? []) {
    const t = createdOf(ctx, ref, 'before');
    tests.push((v) => v.created.getTime() < t);
  }
  for (const ref of f.get('since') ?? []) {
    const t = createdOf(ctx, ref, 'since');
    tests.push((v) => v.created.getTime() > t);
  }
  return (v) => tests.every((t) => t(v));
}
