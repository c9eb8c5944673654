// `tcr create` has two forms, told apart by run's rule (src/cli/run-form.ts):
// runc's `create [--bundle DIR] [flags] ID`, which engines call and which
// stays exactly runc's, and docker's `create [flags] IMAGE [COMMAND...]`,
// which main.ts hands to `container create` (src/cli/image-start-command.ts).
// runc's create also takes its flags after the id: tokens after the first
// positional that all read as create flags are those, not a command.
import { CREATE_FLAGS, IMAGE_RUN_FLAGS, parseFlagDef } from './shapes.js';
import { hostProbe, runForm, type RunForm } from './run-form.js';

interface Known {
  key: string;
  takesValue: boolean;
}

function flagTable(defs: typeof CREATE_FLAGS): Map<string, Known> {
  const m = new Map<string, Known>();
  for (const d of defs) {
    const f = parseFlagDef(d);
    m.set(f.long, { key: f.key, takesValue: f.takesValue });
    if (f.short) m.set(f.short, { key: f.key, takesValue: f.takesValue });
  }
  return m;
}

const RUNC = flagTable(CREATE_FLAGS);
const ALL = new Map([...flagTable(IMAGE_RUN_FLAGS), ...RUNC]);

/** Reads flags from tokens[i..] until a positional; undefined at a flag neither form has. */
function readFlags(tokens: string[], i: number, table: Map<string, Known>, given: string[]): number | undefined {
  for (; i < tokens.length; i++) {
    const t = tokens[i];
    if (!t.startsWith('-') || t === '-') return i;
    if (t === '--') return i + 1;
    const eq = t.startsWith('--') ? t.indexOf('=') : -1;
    // short flags together (-it): each known, only the last may take a value
    const joined = /^-[a-zA-Z]{2,}$/.test(t) ? [...t.slice(1)].map((c) => table.get(`-${c}`)) : undefined;
    if (joined && joined.every((j, n) => j && (!j.takesValue || n === joined.length - 1))) {
      for (const j of joined) given.push(j!.key);
      if (joined[joined.length - 1]!.takesValue) i++;
      continue;
    }
    const f = table.get(eq > 0 ? t.slice(0, eq) : t);
    if (!f) return undefined;
    given.push(f.key);
    if (f.takesValue && eq < 0) i++;
  }
  return i;
}

/** The form of `create` given the tokens after the word create. */
export async function createForm(tokens: string[], storeRoot: string | undefined): Promise<RunForm> {
  const given: string[] = [];
  const first = readFlags(tokens, 0, ALL, given);
  if (first === undefined || first >= tokens.length) return 'bundle'; // help, an unknown flag, no id: runc's create explains
  const after: string[] = [];
  const end = readFlags(tokens, first + 1, RUNC, after);
  const positionals = end === tokens.length ? [tokens[first]] : tokens.slice(first);
  return runForm(end === tokens.length ? [...given, ...after] : given, positionals, hostProbe(storeRoot));
}
