// The --filter of docker's prune commands: until=DURATION (24h, 90m, 10s)
// or until=TIME (RFC 3339, a date, or unix seconds): only what was created
// before; label=K[=V] and label!=K[=V] on a container's labels.
import { TcrError } from '../errors.js';

export type PruneFilter = (item: { created?: string; labels: Record<string, string> }) => boolean;

/** until's value as a point in time: a Go duration before now, or a time. */
export function untilTime(value: string, now = Date.now()): number {
  const d = /^(\d+(?:\.\d+)?)(h|m|s|ms)$/.exec(value);
  if (d) return now - Number(d[1]) * { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[d[2] as 'h' | 'm' | 's' | 'ms'];
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  const t = Date.parse(value);
  if (!Number.isFinite(t))
    throw new TcrError(`--filter until=${value}: not a duration (24h, 10m) nor a time (2006-01-02T15:04:05Z, unix seconds)`);
  return t;
}

function labelTest(spec: string): (labels: Record<string, string>) => boolean {
  const i = spec.indexOf('=');
  return i < 0 ? (l) => spec in l : (l) => l[spec.slice(0, i)] === spec.slice(i + 1);
}

export function parseFilters(specs: string[], keys: string[]): PruneFilter {
  const tests: PruneFilter[] = [];
  for (const s of specs) {
    const m = /^(until|label!|label)=(.*)$/.exec(s);
    const key = m?.[1] ?? s.split('=')[0];
    if (!m || !keys.includes(key))
      throw new TcrError(`--filter ${JSON.stringify(s)}: invalid filter '${key}' (${keys.map((k) => `${k}=`).join(', ')} are understood)`);
    if (key === 'until') {
      const t = untilTime(m[2]);
      tests.push((i) => i.created !== undefined && Date.parse(i.created) < t);
    } else {
      const test = labelTest(m[2]);
      tests.push(key === 'label' ? (i) => test(i.labels) : (i) => !test(i.labels));
    }
  }
  return (i) => tests.every((t) => t(i));
}
