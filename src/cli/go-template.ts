// The part of Go's text/template that `docker inspect --format` is mostly
// used with: `{{.A.B}}` (a field path; `{{.}}` the whole value) and
// `{{json .A}}`, in any text, and a method with string arguments
// (`{{.Label "k"}}`, where the value holds a function). Values print as Go's fmt prints them (maps as
// map[k:v], lists as [a b]), so scripts written for docker read the same.
import { TcrError } from '../errors.js';

function lookup(value: unknown, dotted: string): unknown {
  if (dotted === '.') return value;
  let v = value;
  for (const name of dotted.slice(1).split('.')) {
    if (v === null || typeof v !== 'object' || !(name in v))
      throw new TcrError(`template: executing at <${dotted}>: can't evaluate field ${name}`);
    v = (v as Record<string, unknown>)[name];
  }
  return v;
}

/** Go's %v of a decoded JSON value. */
export function goPrint(v: unknown): string {
  if (v === null || v === undefined) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goPrint).join(' ')}]`;
  if (typeof v === 'object')
    return `map[${Object.keys(v)
      .sort()
      .map((k) => `${k}:${goPrint((v as Record<string, unknown>)[k])}`)
      .join(' ')}]`;
  return typeof v === 'string' ? v : JSON.stringify(v); // numbers and booleans print as in JSON
}

/** Applies `format` to `value`; a newline ends each result, as docker prints one per container. */
export function applyTemplate(format: string, value: unknown): string {
  return format.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_all, action: string) => {
    const m = /^(json\s+)?(\.[\w.]*)((?:\s+"[^"\\]*")*)$/.exec(action);
    if (!m)
      throw new TcrError(
        `template: ${JSON.stringify(`{{${action}}}`)}: only {{.Field.Path}}, {{.Method "arg"}} and {{json .Field}} are understood`,
      );
    let v = lookup(value, m[2] === '.' ? '.' : m[2].replace(/\.$/, ''));
    const args = [...m[3].matchAll(/"([^"]*)"/g)].map((a) => a[1]);
    if (typeof v === 'function') v = (v as (...a: string[]) => unknown)(...args);
    else if (args.length) throw new TcrError(`template: executing at <${m[2]}>: ${m[2]} is not a method but has arguments`);
    return m[1] ? JSON.stringify(v) : goPrint(v);
  });
}
