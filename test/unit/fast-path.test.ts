// The fast path (src/cli/fast-path.ts) must parse every command line it takes
// exactly as commander would, and hand everything else to commander.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram, commandName } from '../../src/cli/main.js';
import { parseFastPath } from '../../src/cli/fast-path.js';

interface Parsed {
  command: string;
  given?: Set<string>;
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
      if (sub.name() === 'run')
        parsed.given = new Set(cmd.options.map((o) => o.attributeName()).filter((k) => cmd.getOptionValueSource(k) === 'cli'));
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
  ['run', '--bundle', '/b', 'c1', '--keep'], // after the id: the (refused) command of a bundle run
  ['run', 'busybox'],
  ['run', '--rm', 'busybox', 'true'],
  [
    'run',
    '--rm',
    '-i',
    '-t',
    '-e',
    'A=1',
    '--env',
    'B=2',
    '--name',
    'web',
    '-v',
    '/a:/b:ro',
    '-v',
    '/c:/d',
    'busybox',
    'sh',
    '-c',
    'echo $A',
  ],
  ['run', '-h', 'box', '--network', 'host', '--pull=never', '--cap-add', 'NET_ADMIN', '--cap-drop=ALL', 'busybox'],
  [
    'run',
    '--network',
    'tcr-user',
    '-p',
    '127.0.0.1:8080:80',
    '--publish',
    '53:53/udp',
    '-P',
    '--dns',
    '10.0.0.2',
    '--add-host',
    'db:10.0.0.3',
    '--network-alias',
    'web',
    'busybox',
  ],
  ['run', '-d', '-m', '64m', '--cpus', '0.5', '--pids-limit', '10', '--read-only', '--tmpfs', '/run', 'busybox', 'ls', '-l', '--', '-x'],
  ['run', '--security-opt', 'no-new-privileges', '--env-file', '/e', '-w', '/tmp', '-u', '1000:1000', '--entrypoint', '/bin/sh', 'busybox'],
  ['--store', '/s', 'run', '--rm', 'busybox'],
  ['list'],
  ['--root', '/r', 'list', '-q'],
  ['list', '--format', 'json'],
  ['list', '-f', 'table', '--quiet'],
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
  ['list', 'extra'],
  ['ls'], // the alias is commander's
  ['exec', 'c1', 'true'],
  ['run', '--help'],
  ['run', '--pull', 'sometimes', 'busybox'], // not one of the choices
  ['run', '--rm'],
  ['run', '--expose-all', 'busybox'], // no such flag
];

describe('fast path', () => {
  it.each(TAKEN.map((a) => [a.join(' '), a]))('parses `%s` as commander does', async (_, argv) => {
    const fast = parseFastPath(argv);
    expect(fast).toBeDefined();
    const slow = await viaCommander(argv);
    expect(slow).not.toBeInstanceOf(Error);
    const s = slow as Parsed;
    expect(fast!.command).toBe(s.command);
    expect(fast!.args).toEqual(s.args);
    expect(fast!.globals).toEqual(s.globals);
    expect(fast!.opts).toEqual(s.opts);
    expect(fast!.given).toEqual(s.given);
  });

  it.each(LEFT_TO_COMMANDER.map((a) => [a.join(' '), a]))('leaves `%s` to commander', (_, argv) => {
    expect(parseFastPath(argv)).toBeUndefined();
  });

  it('tells a run which flags were given, which decide its form (run-form.ts)', () => {
    expect(parseFastPath(['run', '-b', '/b', '-d', 'c1'])?.given).toEqual(new Set(['bundle', 'detach']));
    expect(parseFastPath(['run', '--no-pivot', 'c1'])?.given).toEqual(new Set(['pivot']));
    expect(parseFastPath(['run', '--rm', '-e', 'A=1', 'busybox'])?.given).toEqual(new Set(['rm', 'env']));
  });

  it('gives each parse its own arrays for repeatable flags', () => {
    const a = parseFastPath(['run', '-e', 'A=1', 'busybox']);
    const b = parseFastPath(['run', 'busybox']);
    expect(a?.opts.env).toEqual(['A=1']);
    expect(b?.opts.env).toEqual([]);
  });
});
