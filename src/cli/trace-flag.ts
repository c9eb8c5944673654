// `--trace=FILE` is `--trace-file FILE`: `--trace` alone stays a flag
// without a value (runc-style scripts put the container id right after it:
// `create --trace ID`), so only the `=` form names a file. Rewritten before
// either parser sees argv, and only among create's arguments and run's flags: a
// container command's `--trace=x` is its own.
import { SHAPES, parseFlagDef } from './shapes.js';

const GLOBAL_WITH_VALUE = new Set(['--root', '--log', '--log-format', '--store', '--rootless']);

export function rewriteTraceFile(argv: string[]): string[] {
  let i = 0;
  while (i < argv.length && argv[i].startsWith('-')) i += GLOBAL_WITH_VALUE.has(argv[i]) ? 2 : 1;
  const command = argv[i];
  if (command !== 'create' && command !== 'run') return argv;
  const valued = new Set<string>();
  for (const f of SHAPES[command].flags.map(parseFlagDef)) {
    if (!f.takesValue) continue;
    valued.add(f.long);
    if (f.short) valued.add(f.short);
  }
  const out = argv.slice(0, i + 1);
  for (i++; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--' || (command === 'run' && !a.startsWith('-'))) break; // run's first positional: its command follows
    if (a.startsWith('--trace=')) out.push('--trace-file', a.slice('--trace='.length));
    else out.push(a);
    if (valued.has(a) && i + 1 < argv.length) out.push(argv[++i]);
  }
  return out.concat(argv.slice(i));
}
