// The fast path (src/cli/fast-path.ts) must parse every command line it takes
// exactly as commander would, and hand everything else to commander.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, commandName } from '../../src/cli/main.js';
import { parseFastPath } from '../../src/cli/fast-path.js';

interface Parsed {
  command: string;
  globals: Record<string, unknown>;
  args: string[];
  opts: Record<string, unknown>;
}

/** What commander makes of argv: the action's positionals, options and the program's options. */
async function viaCommander(argv: string[]): Promise<Parsed | Error> {
  const program = buildProgram(commandName(argv));
  program.configureOutput({ writeOut: () => {}, writeErr: () => {} });
  let parsed: Parsed | undefined;
  for (const sub of program.commands as Command[]) {
    sub.exitOverride();
    sub.action((...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      const args = a.slice(0, -2).flatMap((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v])) as string[];
      parsed = { command: sub.name(), globals: program.opts(), args, opts: cmd.opts() };
    });
  }
  // no log set-up or systemd check in a unit test: drop main.ts's preAction hook
  (program as unknown as { _lifeCycleHooks: Record<string, unknown[]> })._lifeCycleHooks.preAction = [];
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    return e as Error;
  }
  return parsed ?? new Error('no action ran');
}

const bundleRun = (bundleGiven: boolean) => bundleGiven;

const TAKEN: string[][] = [
  ['create', 'c1'],
  ['--root', '/run/x', '--log', '/tmp/l', '--log-format', 'json', 'create', '--bundle', '/b', '--pid-file', '/p', 'c1'],
  ['--root=/run/x', '--debug', 'create', '-b', '/b', '--no-pivot', '--no-new-keyring', '--preserve-fds', '2', 'c1'],
  ['create', 'c1', '--bundle', '/b', '--console-socket', '/s.sock'],
  ['create', '--trace', '--dry-run', '--bundle=/b', 'c1'],
  ['--systemd-cgroup', 'start', 'c1'],
  ['start', 'c1'],
  ['state', 'c1'],
  ['kill', 'c1'],
  ['kill', 'c1', '9'],
  ['kill', '--all', 'c1', 'SIGKILL'],
  ['kill', 'c1', 'TERM', '-a'],
  ['delete', 'c1'],
  ['delete', '--force', 'c1'],
  ['delete', 'c1', 'c2', '-f'],
  ['run', '--bundle', '/b', 'c1'],
  ['run', '-b', '/b', '-d', '--keep', '--pid-file', '/p', 'c1'],
];

const LEFT_TO_COMMANDER: string[][] = [
  [],
  ['--help'],
  ['create', '--help'],
  ['create'], // missing id: commander's error
  ['start'],
  ['start', 'c1', 'c2'],
  ['kill', 'c1', '9', 'extra'],
  ['kill', 'c1', '-9'],
  ['delete', '-af', 'c1'],
  ['delete', '--', 'c1'],
  ['--log-format', 'yaml', 'state', 'c1'],
  ['--root', 'state', 'c1'].slice(0, 1),
  ['create', '--bundle'],
  ['create', '--bundle', '--pid-file', 'c1'],
  ['--no-pivot', 'create', 'c1'], // a create flag before the command is not a global one
  ['state', '--root', '/r', 'c1'], // a global flag after the command is not taken
  ['create', '--trace=yes', 'c1'],
  ['list'],
  ['exec', 'c1', 'true'],
  ['run', 'busybox'], // an image run (no --bundle, no config.json here)
  ['run', '--bundle', '/b', 'c1', '--keep'], // after the id: the (refused) command of a bundle run
  ['run', '--rm', '--bundle', '/b', 'c1'],
];

describe('fast path', () => {
  it.each(TAKEN.map((a) => [a.join(' '), a]))('parses `%s` as commander does', async (_, argv) => {
    const fast = parseFastPath(argv as string[], bundleRun);
    expect(fast).toBeDefined();
    const slow = await viaCommander(argv as string[]);
    expect(slow).not.toBeInstanceOf(Error);
    const s = slow as Parsed;
    expect(fast!.command).toBe(s.command);
    expect(fast!.args).toEqual(s.args);
    expect(fast!.globals).toEqual(s.globals);
    if (s.command === 'run') {
      // commander's run also carries the docker-style flags' defaults, which a bundle run ignores
      for (const [k, v] of Object.entries(fast!.opts)) expect([k, s.opts[k]]).toEqual([k, v]);
    } else {
      expect(fast!.opts).toEqual(s.opts);
    }
  });

  it.each(LEFT_TO_COMMANDER.map((a) => [a.join(' '), a]))('leaves `%s` to commander', (_, argv) => {
    expect(parseFastPath(argv as string[], bundleRun)).toBeUndefined();
  });

  it('asks whether a run without --bundle is a bundle run (config.json in the working directory)', () => {
    expect(parseFastPath(['run', 'c1'], () => true)?.args).toEqual(['c1']);
    expect(parseFastPath(['run', 'c1'], () => false)).toBeUndefined();
  });
});
