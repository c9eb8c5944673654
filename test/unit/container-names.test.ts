// The names `tcr rename` gives running containers (src/container/names.ts)
// and the command line's lookup of them (src/cli/name-lookup.ts), on a
// scratch state root: no root needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dropNames, idForName, nameOf, nameTaken, resolveContainer, setName } from '../../src/container/names.js';
import { givenName, isContainerArgument, resolveArgs } from '../../src/cli/name-lookup.js';

describe('container names', () => {
  let root: string;
  const make = (id: string) => fs.mkdirSync(path.join(root, id), { recursive: true });
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-names-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('a named container is found by its name only; its id is "does not exist"; others are themselves', () => {
    make('old');
    make('plain');
    setName(root, 'old', 'new');
    expect(resolveContainer(root, 'new')).toBe('old');
    expect(() => resolveContainer(root, 'old')).toThrow('container old does not exist');
    expect(resolveContainer(root, 'plain')).toBe('plain');
    expect(resolveContainer(root, 'nosuch')).toBe('nosuch');
    expect([nameOf(root, 'old'), nameOf(root, 'plain')]).toEqual(['new', 'plain']);
    expect([nameTaken(root, 'new'), nameTaken(root, 'old'), nameTaken(root, 'plain'), nameTaken(root, 'free')]).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it('a second name replaces the first; a live name cannot be taken twice; a stale one is taken over', () => {
    make('a');
    make('b');
    setName(root, 'a', 'one');
    setName(root, 'a', 'two');
    expect([idForName(root, 'one'), idForName(root, 'two')]).toEqual([undefined, 'a']);
    expect(() => setName(root, 'b', 'two')).toThrow('the container name "two" is already in use');
    fs.rmSync(path.join(root, 'a'), { recursive: true });
    expect(idForName(root, 'two')).toBeUndefined();
    setName(root, 'b', 'two');
    expect(idForName(root, 'two')).toBe('b');
    dropNames(root, 'b');
    expect([idForName(root, 'two'), nameOf(root, 'b')]).toEqual([undefined, 'b']);
  });

  it("the command line's container arguments are looked up, others are not; what was given is kept for the echo", () => {
    make('old');
    setName(root, 'old', 'new');
    expect(['<id>', '<id...>', '<container>', '[container...]', '<network>', '[signal]', '<new-name>'].map(isContainerArgument)).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(resolveArgs('kill', root, ['<id>', '[signal]'], ['new', 'new'])).toEqual(['old', 'new']);
    expect(resolveArgs('delete', root, ['<id...>'], ['new', 'x'])).toEqual(['old', 'x']);
    expect(resolveArgs('create', root, ['<id>'], ['new'])).toEqual(['new']);
    expect(givenName('old')).toBe('new');
  });
});
