// bin/tcr.cjs sends runc's commands on a created container to the engine's
// bundle (src/cli/engine.ts) and everything else to the full CLI: its own
// copies of the engine's command names and of the global flags that take a
// value must stay the sources' (a flag missing there would take its value
// for the command's name).
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GLOBAL_WITH_VALUE, commandName } from '../../src/cli/command-line.js';
import { ENGINE_COMMANDS } from '../../src/cli/engine.js';
import { GLOBAL_FLAGS, SHAPES, parseFlagDef } from '../../src/cli/shapes.js';

const loader = createRequire(import.meta.url)(path.join(import.meta.dirname, '..', '..', 'bin', 'tcr.cjs')) as {
  bundleFor(argv: string[]): string;
  ENGINE_COMMANDS: Set<string>;
  GLOBAL_WITH_VALUE: Set<string>;
};

describe('the engine bundle and the loader', () => {
  it('the loader keeps the engine commands and the valued global flags of the sources', () => {
    expect([...loader.ENGINE_COMMANDS].sort()).toEqual([...ENGINE_COMMANDS].sort());
    expect([...loader.GLOBAL_WITH_VALUE].sort()).toEqual([...GLOBAL_WITH_VALUE].sort());
    const valued = GLOBAL_FLAGS.map(parseFlagDef)
      .filter((f) => f.takesValue)
      .map((f) => f.long);
    expect([...GLOBAL_WITH_VALUE].sort()).toEqual(valued.sort());
  });

  it('every engine command is one the fast path parses', () => {
    for (const c of ENGINE_COMMANDS) expect(Object.hasOwn(SHAPES, c)).toBe(true);
  });

  it.each([
    [['start', 'c'], 'tcr-engine.cjs'],
    [['--root', '/run/x', '--log', '/l', '--log-format', 'json', 'state', 'c'], 'tcr-engine.cjs'],
    [['--systemd-cgroup', '--root', 'kill', 'kill', 'c', '9'], 'tcr-engine.cjs'],
    [['--debug', 'delete', '--force', 'c'], 'tcr-engine.cjs'],
    [['list', '-q'], 'tcr-engine.cjs'],
    // a command name that is the value of a global flag is no command
    [['--root', 'start', 'run', 'x'], 'tcr.cjs'],
    [['create', '--bundle', 'b', 'c'], 'tcr.cjs'],
    [['run', 'busybox', 'start'], 'tcr.cjs'],
    [['ps', 'start'], 'tcr.cjs'],
    [['ls'], 'tcr.cjs'],
    [['--help'], 'tcr.cjs'],
    [[], 'tcr.cjs'],
  ])('%j runs from %s, as the command name the CLI finds', (argv, bundle) => {
    expect(loader.bundleFor(argv)).toBe(bundle);
    const name = commandName(argv);
    if (bundle === 'tcr-engine.cjs') expect(ENGINE_COMMANDS.has(name!)).toBe(true);
    else if (name !== 'list') expect(name === undefined || !ENGINE_COMMANDS.has(name)).toBe(true);
  });
});
