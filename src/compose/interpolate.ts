// Variable substitution in a compose file, as the Compose Specification has
// it: $VAR and ${VAR}, ${VAR:-default} / ${VAR-default} (unset-or-empty /
// unset), ${VAR:?error} / ${VAR?error}, ${VAR:+alt} / ${VAR+alt}, and $$ for
// a literal $. It runs over the parsed YAML's string values (keys too, as
// compose does), so a value never changes the file's structure.
import { TcrError } from '../errors.js';

export type Env = Record<string, string | undefined>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/** One string with its variables substituted; `where` names the key in errors. */
export function interpolateString(s: string, env: Env, where: string): string {
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = s[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const end = closingBrace(s, i + 2);
      if (end < 0) throw new TcrError(`${where}: ${JSON.stringify(s)} has a \${ without its }`);
      out += braced(s.slice(i + 2, end), env, where);
      i = end + 1;
      continue;
    }
    const m = NAME.exec(s.slice(i + 1));
    if (!m) {
      out += '$'; // a lone $ stays, as compose leaves it
      i++;
      continue;
    }
    out += env[m[0]] ?? '';
    i += 1 + m[0].length;
  }
  return out;
}

/** The } that closes a ${ at `from`, counting nested ${...} in defaults. */
function closingBrace(s: string, from: number): number {
  let depth = 1;
  for (let i = from; i < s.length; i++) {
    if (s[i] === '$' && s[i + 1] === '{') {
      depth++;
      i++;
    } else if (s[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function braced(body: string, env: Env, where: string): string {
  const m = NAME.exec(body);
  if (!m) throw new TcrError(`${where}: \${${body}} is not a variable name`);
  const name = m[0];
  const rest = body.slice(name.length);
  const value = env[name];
  if (rest === '') return value ?? '';
  const op = /^(:?)([-?+])/.exec(rest);
  if (!op) throw new TcrError(`${where}: \${${body}}: expected :-, -, :?, ?, :+ or + after ${name}`);
  const word = () => interpolateString(rest.slice(op[0].length), env, where);
  const missing = op[1] === ':' ? !value : value === undefined;
  switch (op[2]) {
    case '-':
      return missing ? word() : value!;
    case '+':
      return missing ? '' : word();
    default: {
      if (!missing) return value!;
      const msg = word();
      throw new TcrError(`${where}: required variable ${name} is ${value === undefined ? 'not set' : 'empty'}${msg ? `: ${msg}` : ''}`);
    }
  }
}

/** Substitutes through a parsed YAML document; `path` is the key path for errors. */
export function interpolate(value: unknown, env: Env, path = ''): unknown {
  if (typeof value === 'string') return interpolateString(value, env, path || 'compose file');
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, env, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = interpolateString(k, env, path || 'compose file');
      out[key] = interpolate(v, env, path ? `${path}.${key}` : key);
    }
    return out;
  }
  return value;
}

/** A .env file's variables (KEY=VALUE lines, # comments, optional quotes), as compose reads one. */
export function parseDotEnv(text: string, file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  text.split('\n').forEach((raw, n) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) throw new TcrError(`${file}:${n + 1}: ${JSON.stringify(raw)} is not KEY=VALUE`);
    let v = m[2];
    const q = v[0];
    if ((q === '"' || q === "'") && v.length >= 2 && v.endsWith(q)) {
      v = v.slice(1, -1);
      if (q === '"') v = v.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    } else {
      v = v.replace(/\s+#.*$/, ''); // an unquoted value ends at a comment
    }
    vars[m[1]] = v;
  });
  return vars;
}
