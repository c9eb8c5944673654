// The command line's own failures (src/cli/cli-errors.ts): docker's exit
// status for docker's commands and runc's for runc's, hints only to close
// names of the same kind, and "needs root" naming the command.
import { describe, expect, it } from 'vitest';
import { closeCommands, editDistance, failureStatus, isDockerStyle, requireRoot, unknownCommand } from '../../src/cli/cli-errors.js';
import { commandName } from '../../src/cli/main.js';

const status = (argv: string[]) => failureStatus(argv, commandName(argv));
const COMMANDS = [
  'create',
  'start',
  'run',
  'state',
  'kill',
  'delete',
  'list',
  'ps',
  'exec',
  'stop',
  'rm',
  'rmi',
  'images',
  'pull',
  'logs',
  'spec',
  'pause',
  'resume',
];

describe("exit status of tcr's own failures", () => {
  it("125 for docker's commands, 1 for runc's", () => {
    for (const argv of [
      ['images', '--bad'],
      ['rmi', 'x'],
      ['pull', 'x'],
      ['run', '--bad', 'busybox'],
      ['--root', '/r', 'rm', 'x'],
      ['ps', '-a'],
      ['ps'],
      ['ps', '-n', '3', '--filter', 'name=x', '--format', '{{.ID}}'],
      ['top', 'x'],
      ['rename', 'x', 'y'],
      ['system', 'prune'],
      ['logs', 'x'],
      ['stop', 'x'],
    ])
      expect(status(argv), argv.join(' ')).toBe(125);
    for (const argv of [
      ['create', '--bad', 'x'],
      ['run', '--bundle', '/b', '--bad', 'x'],
      ['run', '-b', '/b', 'x'],
      ['ps', 'ctr'],
      ['ps', '-f', 'json', 'ctr'],
      ['state', 'x'],
      ['delete', 'x'],
      ['kill', 'x'],
      [],
    ])
      expect(status(argv), argv.join(' ')).toBe(1);
    expect(isDockerStyle(['run', '--bundle=/b', 'x'], 'run')).toBe(false);
    expect(failureStatus(['images'], 'images', 3)).toBe(3); // a status of its own is kept
  });
});

describe('hints', () => {
  it('edit distance counts a transposition as one edit', () => {
    expect(editDistance('strat', 'start')).toBe(1);
    expect(editDistance('top', 'stop')).toBe(1);
    expect(editDistance('frce', 'trace')).toBe(2);
  });

  it('offer only close names with the same first letter', () => {
    expect(closeCommands('strat', COMMANDS)).toEqual(['start']);
    expect(closeCommands('imags', COMMANDS)).toEqual(['images']);
    expect(closeCommands('rn', COMMANDS)).toEqual(['run', 'rm']);
    expect(closeCommands('top', COMMANDS)).toEqual([]);
    expect(closeCommands('frce', ['force', 'trace'])).toEqual(['force']);
    expect(closeCommands('frobnicate', COMMANDS)).toEqual([]);
  });

  it('an unknown command names a close command, or nothing', () => {
    expect(unknownCommand('strat', COMMANDS).message).toBe('unknown command "strat" (did you mean start?); tcr --help lists the commands');
    expect(unknownCommand('frobnicate', COMMANDS).message).toBe('unknown command "frobnicate"; tcr --help lists the commands');
    expect(unknownCommand('frobnicate', COMMANDS).exitCode).toBe(1);
  });
});

describe('needs root', () => {
  const refused = (argv: string[]) => {
    try {
      requireRoot(argv, commandName(argv), 1000);
    } catch (e) {
      return e as { message: string; exitCode: number };
    }
    return undefined;
  };

  it('refuses the commands a user does not have, naming the command, with the exit status of its kind', () => {
    expect(refused(['network', 'ls'])).toMatchObject({
      exitCode: 125,
      message: expect.stringMatching(
        /^tcr network needs root \(this is uid 1000; as an ordinary user tcr has the OCI runtime's bundle commands/,
      ),
    });
    expect(refused(['push', 'busybox'])).toMatchObject({ exitCode: 125, message: expect.stringMatching(/^tcr push needs root/) });
    expect(refused(['compose', 'up'])).toMatchObject({ exitCode: 1 });
    expect(() => requireRoot(['network', 'ls'], 'network', 0)).not.toThrow();
  });

  it('lets an ordinary user run the image commands of their own store', () => {
    for (const argv of [
      ['images'],
      ['pull', 'busybox'],
      ['run', '-h', 'box', 'busybox'],
      ['ps', '-a'],
      ['rmi', 'x'],
      ['logs', 'c'],
      ['rm', 'c'],
    ])
      expect(refused(argv), argv.join(' ')).toBeUndefined();
  });

  it("lets an ordinary user run runc's bundle commands (rootless)", () => {
    for (const argv of [
      ['run', '--bundle', '/b', 'c1'],
      ['create', '--bundle', '/b', 'c1'],
      ['state', 'c1'],
      ['start', 'c1'],
      ['exec', 'c1', 'id'],
      ['kill', 'c1', 'KILL'],
      ['delete', '--force', 'c1'],
      ['list'],
      ['ps', 'c1'],
      ['spec', '--rootless'],
      ['features'],
      ['state', '--help'],
      ['create', '-h'],
      [],
    ])
      expect(refused(argv), argv.join(' ')).toBeUndefined();
  });
});
