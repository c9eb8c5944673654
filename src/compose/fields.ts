// Typed reads of a parsed compose document, each error naming the key's
// path (services.web.ports[1]) and what was expected there.
import { TcrError } from '../errors.js';

export type Obj = Record<string, unknown>;

export function fail(where: string, why: string): never {
  throw new TcrError(`${where}: ${why}`);
}

const kind = (v: unknown) =>
  v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function obj(v: unknown, where: string): Obj {
  if (!isObj(v)) fail(where, `expected a mapping, found ${kind(v)}`);
  return v;
}

/** Refuses keys outside `known`; `unsupported` ones get their own reason (valid compose that tcr does not do). */
export function onlyKeys(o: Obj, where: string, known: readonly string[], unsupported: Record<string, string> = {}): void {
  for (const k of Object.keys(o)) {
    if (k.startsWith('x-')) continue; // extension fields are the user's
    if (k in unsupported) fail(`${where}.${k}`, unsupported[k]);
    if (!known.includes(k)) fail(`${where}.${k}`, `not a key tcr compose knows here (known: ${known.join(', ')})`);
  }
}

/** A scalar as compose takes it for string fields: numbers and booleans written bare become their text. */
export function str(v: unknown, where: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  fail(where, `expected a string, found ${kind(v)}`);
}

export function optStr(v: unknown, where: string): string | undefined {
  return v === undefined || v === null ? undefined : str(v, where);
}

export function bool(v: unknown, where: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  fail(where, `expected true or false, found ${kind(v)}`);
}

export function int(v: unknown, where: string, min = 0): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min) fail(where, `expected a whole number ≥ ${min}, found ${kind(v)}`);
  return n;
}

/** A string or a list of strings, as `dns`, `tmpfs`, `env_file` take. */
export function strOrList(v: unknown, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((x, i) => str(x, `${where}[${i}]`));
  return [str(v, where)];
}

export function list(v: unknown, where: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(where, `expected a list, found ${kind(v)}`);
  return v;
}

export function strList(v: unknown, where: string): string[] {
  return list(v, where).map((x, i) => str(x, `${where}[${i}]`));
}

/**
 * A mapping or a list of KEY=VALUE, as `environment`, `labels`, `sysctls`
 * take; a list item without = (or a null value) is `bare`'s to resolve
 * (the environment takes the caller's value, labels an empty one).
 */
export function keyValues(v: unknown, where: string, bare: (key: string) => string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (Array.isArray(v)) {
    v.forEach((item, i) => {
      const s = str(item, `${where}[${i}]`);
      const eq = s.indexOf('=');
      if (eq === 0) fail(`${where}[${i}]`, `${JSON.stringify(s)} has no name before =`);
      const key = eq < 0 ? s : s.slice(0, eq);
      const value = eq < 0 ? bare(key) : s.slice(eq + 1);
      if (value !== undefined) out[key] = value;
    });
    return out;
  }
  for (const [k, val] of Object.entries(obj(v, where))) {
    const value = val === null ? bare(k) : str(val, `${where}.${k}`);
    if (value !== undefined) out[k] = value;
  }
  return out;
}

/**
 * A command as compose takes it: a list as is, a string split the way a
 * POSIX shell splits words (quotes and backslashes; no expansion), as
 * compose's shlex does.
 */
export function command(v: unknown, where: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.map((x, i) => str(x, `${where}[${i}]`));
  return shellWords(str(v, where), where);
}

export function shellWords(s: string, where: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) fail(where, `${JSON.stringify(s)} has an unclosed '`);
      word += s.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < s.length && s[i] !== '"'; i++) {
        if (s[i] === '\\' && i + 1 < s.length && '"\\$`\n'.includes(s[i + 1])) i++;
        word += s[i];
      }
      if (i >= s.length) fail(where, `${JSON.stringify(s)} has an unclosed "`);
    } else if (c === '\\' && i + 1 < s.length) {
      word += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Compose's durations ("1m30s", "10s", "1h", "500ms", a bare number of seconds) → seconds. */
export function durationSeconds(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const s = str(v, where).trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/gy;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 }[m[2]]!;
    at = re.lastIndex;
  }
  if (at === 0 || at !== s.length) fail(where, `${JSON.stringify(s)} is not a duration (e.g. 10s, 1m30s, 500ms)`);
  return total;
}
