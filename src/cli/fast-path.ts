// The per-container commands an engine runs (create, start, state, kill,
// delete) and `run` (of a bundle or an image) parsed without commander: loading and setting up
// commander is a large share of such a command's own time (bench/run.js). The
// parser reads the same table as commander (src/cli/shapes.ts) and gives up on
// anything it is not sure of (help, an unknown or combined flag, `--`, a
// missing argument), which commander then parses and, if need be, explains.
// test/unit/fast-path.test.ts checks both parsers agree.
import { GLOBAL_FLAGS, SHAPES, parseFlagDef, type CommandShape, type FlagDef, type ParsedFlag } from './shapes.js';

export type FastCommand = keyof typeof SHAPES;

export interface FastParse {
  command: FastCommand;
  /** run only: the keys of the flags on the command line, which decide its form (src/cli/run-form.ts) */
  given?: Set<string>;
  globals: Record<string, unknown>;
  args: string[];
  opts: Record<string, unknown>;
}

type Flag = ParsedFlag & Pick<FlagDef, 'choices' | 'repeatable'>;

interface FlagTable {
  byName: Map<string, Flag>;
  defaults: Record<string, unknown>;
}

function table(defs: FlagDef[]): FlagTable {
  const byName = new Map<string, Flag>();
  const defaults: Record<string, unknown> = {};
  for (const def of defs) {
    const f = { ...parseFlagDef(def), choices: def.choices, repeatable: def.repeatable };
    byName.set(f.long, f);
    if (f.short) byName.set(f.short, f);
    if (f.repeatable) defaults[f.key] = [];
    else if (def.default !== undefined) defaults[f.key] = def.default;
    else if (f.negate) defaults[f.key] = true;
  }
  return { byName, defaults };
}

/**
 * Reads options and positionals from argv[i..] up to `stopAtPositional`'s
 * first positional (the sub-command name) or the end. Undefined when
 * something is outside what this parser handles.
 */
function readOptions(
  argv: string[],
  i: number,
  t: FlagTable,
  stopAtPositional: boolean,
  positionals: string[],
  passThrough = false,
): { opts: Record<string, unknown>; given: Set<string>; next: number } | undefined {
  const opts: Record<string, unknown> = { ...t.defaults };
  const given = new Set<string>();
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('-') || a === '-') {
      if (stopAtPositional) return { opts, given, next: i };
      positionals.push(a);
      // commander's passThroughOptions (run): what follows the first positional is the container's command
      if (passThrough) positionals.push(...argv.slice(i + 1));
      if (passThrough) return { opts, given, next: argv.length };
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const f = t.byName.get(name);
    if (!f) return undefined; // --help, --, -abc, an unknown flag: commander's business
    if (!f.takesValue) {
      if (eq > 0) return undefined;
      opts[f.key] = !f.negate;
      given.add(f.key);
      continue;
    }
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('-'))) return undefined;
    if (f.choices && !f.choices.includes(value)) return undefined;
    // repeatable: a new array each time, never the shared default
    opts[f.key] = f.repeatable ? [...(opts[f.key] as string[]), value] : value;
    given.add(f.key);
  }
  return { opts, given, next: i };
}

/** Whether the positionals fit the shape's '<a>', '[b]', '<c...>' arguments. */
function argsFit(shape: CommandShape, args: string[]): boolean {
  const required = shape.args.filter((a) => a.startsWith('<')).length;
  const variadic = shape.args.some((a) => a.endsWith('...>') || a.endsWith('...]'));
  return args.length >= required && (variadic || args.length <= shape.args.length);
}

const globalTable = table(GLOBAL_FLAGS);
const commandTables = new Map<string, FlagTable>();

/** The command argv asks for, parsed as commander would, or undefined when commander must do it. */
export function parseFastPath(argv: string[]): FastParse | undefined {
  const g = readOptions(argv, 0, globalTable, true, []);
  if (!g || g.next >= argv.length) return undefined;
  const name = argv[g.next];
  if (!Object.hasOwn(SHAPES, name)) return undefined;
  const command = name as FastCommand;
  const shape: CommandShape = SHAPES[command];
  let t = commandTables.get(command);
  if (!t) commandTables.set(command, (t = table(shape.flags)));
  const args: string[] = [];
  const c = readOptions(argv, g.next + 1, t, false, args, command === 'run');
  if (!c || !argsFit(shape, args)) return undefined;
  if (command === 'run') return { command, given: c.given, globals: g.opts, args, opts: c.opts };
  return { command, globals: g.opts, args, opts: c.opts };
}
