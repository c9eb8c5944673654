// `tcr network ls --filter KEY=VALUE` and `--format`, docker's way: filters
// of one key are alternatives, of different keys all must hold; a format is
// a Go template over each network's row (ID, Name, Driver, Scope, IPv6,
// Internal, Labels, CreatedAt), or `json`, or `table` with a header.
import { TcrError } from '../errors.js';
import { SPECIAL, type NetworkDef } from './networks.js';

export interface NetworkRow {
  ID: string;
  Name: string;
  Driver: string;
  Scope: string;
  IPv6: boolean;
  Internal: boolean;
  Labels: string;
  CreatedAt: string;
  /** not a template field: builtin or custom, for --filter type= */
  builtin: boolean;
  labels: Record<string, string>;
}

export function rowsOf(defs: NetworkDef[]): NetworkRow[] {
  const rows = defs.map((d) => ({
    ID: d.id.slice(0, 12),
    Name: d.name,
    Driver: d.driver,
    Scope: 'local',
    IPv6: !!d.ipv6,
    Internal: !!d.internal,
    Labels: Object.entries(d.labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(','),
    CreatedAt: d.created,
    builtin: !d.shareNames,
    labels: d.labels ?? {},
  }));
  const special = SPECIAL.map((n) => ({
    ID: '-',
    Name: n,
    Driver: n === 'host' ? 'host' : 'null',
    Scope: 'local',
    IPv6: false,
    Internal: false,
    Labels: '',
    CreatedAt: '',
    builtin: true,
    labels: {},
  }));
  return [...rows, ...special];
}

const KEYS = ['name', 'id', 'driver', 'label', 'type'];

export function parseFilters(filters: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = eq < 0 ? f : f.slice(0, eq);
    if (eq < 0 || !KEYS.includes(key)) throw new TcrError(`--filter ${JSON.stringify(f)}: give KEY=VALUE, KEY one of ${KEYS.join(', ')}`);
    const value = f.slice(eq + 1);
    if (key === 'type' && value !== 'builtin' && value !== 'custom') throw new TcrError(`--filter ${f}: type is builtin or custom`);
    m.set(key, [...(m.get(key) ?? []), value]);
  }
  return m;
}

function matches(r: NetworkRow, key: string, value: string): boolean {
  if (key === 'name') return r.Name.includes(value);
  if (key === 'id') return r.ID !== '-' && r.ID.startsWith(value.slice(0, 12));
  if (key === 'driver') return r.Driver === value;
  if (key === 'type') return r.builtin === (value === 'builtin');
  const eq = value.indexOf('=');
  return eq < 0 ? value in r.labels : r.labels[value.slice(0, eq)] === value.slice(eq + 1);
}

export function filterRows(rows: NetworkRow[], filters: Map<string, string[]>): NetworkRow[] {
  return rows.filter((r) => [...filters].every(([key, values]) => values.some((v) => matches(r, key, v))));
}

/** `--label KEY=VALUE` (or KEY, an empty value) of network create. */
export function parseLabels(labels: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of labels) {
    const eq = l.indexOf('=');
    const k = eq < 0 ? l : l.slice(0, eq);
    if (!k) throw new TcrError(`--label ${JSON.stringify(l)}: give KEY=VALUE`);
    out[k] = eq < 0 ? '' : l.slice(eq + 1);
  }
  return out;
}
