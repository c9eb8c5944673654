// The container arguments of every command (`<id>`, `<id...>`, `<container>`,
// `[container...]`) looked up by name before the command runs: a container
// renamed while running keeps its id (src/container/names.ts says why), and
// only the command line knows it by its new name. What a command prints
// back (stop, rm) is the name it was given, as docker's.
import type { Command } from 'commander';
import { DEFAULT_ROOT } from '../container/state-store.js';
import { resolveContainer } from '../container/names.js';

/** Commands whose id argument names a container to make, or that tcr runs itself with an id. */
const NOT_LOOKUPS = new Set(['create', 'run', 'monitor']);

const given = new Map<string, string>();

/** The argument a resolved id came from (itself when it was not a name). */
export function givenName(id: string): string {
  return given.get(id) ?? id;
}

export function isContainerArgument(name: string): boolean {
  return /^[<[](id|container|container-id)(\.\.\.)?[>\]]$/.test(name) || name === 'id' || name === 'container';
}

function resolveOne(root: string, v: string): string {
  const id = resolveContainer(root, v);
  if (id !== v) given.set(id, v);
  return id;
}

/** The fast path's arguments (shapes' names, e.g. `<id>`, `[signal]`). */
export function resolveArgs(command: string, root: string | undefined, specs: string[], args: string[]): string[] {
  if (NOT_LOOKUPS.has(command)) return args;
  return args.map((a, i) => {
    const spec = specs[Math.min(i, specs.length - 1)] ?? '';
    const variadic = spec.endsWith('...>') || spec.endsWith('...]');
    return isContainerArgument(spec) && (i < specs.length || variadic) ? resolveOne(root ?? DEFAULT_ROOT, a) : a;
  });
}

/** A preAction hook: rewrites the action command's container arguments in place. */
export function lookUpNames(actionCommand: Command): void {
  if (NOT_LOOKUPS.has(actionCommand.name())) return;
  const root = actionCommand.optsWithGlobals<{ root?: string }>().root ?? DEFAULT_ROOT;
  const processed = actionCommand.processedArgs as unknown[];
  actionCommand.registeredArguments.forEach((arg, i) => {
    if (!isContainerArgument(arg.name())) return;
    const v = processed[i];
    if (typeof v === 'string') processed[i] = resolveOne(root, v);
    else if (Array.isArray(v)) processed[i] = (v as unknown[]).map((x) => (typeof x === 'string' ? resolveOne(root, x) : x));
  });
}
