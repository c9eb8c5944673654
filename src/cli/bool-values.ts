// docker's boolean flags take a value after '=' (--rm=false, -t=true,
// --privileged=1), which commander and the fast path do not: `run`'s argv is
// rewritten before either parses it, true to the bare flag, false to nothing.
import { TcrError } from '../errors.js';
import { SHAPES, parseFlagDef } from './shapes.js';

const TRUE = ['1', 't', 'T', 'true', 'TRUE', 'True'];
const FALSE = ['0', 'f', 'F', 'false', 'FALSE', 'False'];

/** `run`'s argv (from the sub-command name on) with NAME=BOOL of its boolean flags rewritten. */
export function withBooleanValues(argv: string[], commandIndex: number): string[] {
  const flags = SHAPES.run.flags.map(parseFlagDef);
  const byName = new Map(flags.flatMap((f) => [[f.long, f] as const, ...(f.short ? [[f.short, f] as const] : [])]));
  const out = argv.slice(0, commandIndex + 1);
  for (let i = commandIndex + 1; i < argv.length; i++) {
    const a = argv[i];
    // the first positional is the image: the rest is the container's command, never ours to rewrite
    if (a === '--' || !a.startsWith('-') || a === '-') return [...out, ...argv.slice(i)];
    const eq = a.indexOf('=');
    const f = byName.get(eq > 0 ? a.slice(0, eq) : a);
    if (f?.takesValue && eq < 0) out.push(a, ...(i + 1 < argv.length ? [argv[++i]] : []));
    else if (f && !f.takesValue && !f.negate && eq > 0) {
      const v = a.slice(eq + 1);
      if (TRUE.includes(v)) out.push(a.slice(0, eq));
      else if (!FALSE.includes(v)) throw new TcrError(`${a.slice(0, eq)}: ${JSON.stringify(v)} is not a boolean (true or false)`, 125);
    } else out.push(a);
  }
  return out;
}
