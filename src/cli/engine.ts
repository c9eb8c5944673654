// The commands an engine runs on every container it has created (runc's
// start, state, kill, delete, and list), from a bundle of their own:
// dist/tcr-engine.cjs, which bin/tcr.cjs loads for these names instead of
// the full CLI (src/cli/main.ts). It holds the recorded-container side and
// the fast path's parser: not the launch path, commander's set-up, docker's
// commands or the image side, which are most of the code a command compiles
// at its start, and most of what it does above Node's own start-up
// (bench/run.js). Whatever the fast path does not take (help, a flag it does
// not know, docker's `start` of a stopped image container) goes to the full
// CLI with the command line as given, so both answer alike.
import { commandName, exitStatus, reportFailure, setUp } from './command-line.js';
import { containerActions, startsImage } from './container-actions.js';
import { warmUpEngine } from './engine-warm-up.js';
import { parseFastPath } from './fast-path.js';

/** The names bin/tcr.cjs sends here (it keeps the same list: test/unit/engine.test.ts checks it). */
export const ENGINE_COMMANDS = new Set(['start', 'state', 'kill', 'delete', 'list']);

/** The full CLI's answer to argv (dist/tcr.cjs, loaded now). */
async function fullCli(argv: string[]): Promise<number> {
  const { main: full } = await import('./main.js');
  return full(argv);
}

export async function main(argv: string[]): Promise<number> {
  const name = commandName(argv);
  try {
    const fast = name !== undefined && ENGINE_COMMANDS.has(name) ? parseFastPath(argv) : undefined;
    if (!fast) return await fullCli(argv);
    const g = setUp(fast, argv, name);
    if (fast.command === 'start' && startsImage(g, fast.args[0])) return await fullCli(argv);
    await containerActions[fast.command as keyof typeof containerActions](g, fast.args, fast.opts as never);
    return exitStatus();
  } catch (e) {
    return reportFailure(e, argv, name);
  }
}

/** For scripts/bundle.mjs, before it takes this bundle's code cache (src/cli/engine-warm-up.ts). */
export const warmUp = (): Promise<number[]> => warmUpEngine(main);
