// Runtime-side hooks (prestart, createRuntime, poststart, poststop): each gets
// the state JSON on stdin, and a hook that exits without reading it is judged
// by its exit status alone, never by the broken pipe it leaves behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHooks, runHooksPastFailures } from '../../src/container/hooks.js';
import type { OciState } from '../../src/spec/types.js';

/** A state well above a pipe's 64 KiB buffer, so the write cannot finish before the hook exits. */
function bigState(): OciState {
  const annotations: Record<string, string> = {};
  for (let i = 0; i < 4000; i++) annotations[`example.com/annotation-${i}`] = 'x'.repeat(64);
  return { ociVersion: '1.2.0', id: 'c1', status: 'creating', pid: 4194305, bundle: '/b', annotations };
}

// EPIPE needs the hook to be gone while the state is still being written, so
// each case runs many times: before the fix some of the runs lost the race.
const ROUNDS = 200;

describe('runHooks with a hook that never reads its stdin', () => {
  const state = bigState();

  it('reports /bin/false by its exit status, naming the hook', () => {
    const seen = new Set<string>();
    for (let i = 0; i < ROUNDS; i++) {
      try {
        runHooks('prestart', [{ path: '/bin/false' }], state);
        seen.add('no error');
      } catch (e) {
        seen.add((e as Error).message);
      }
    }
    expect([...seen]).toEqual(['prestart hook 0 (/bin/false): exit status 1']);
  });

  it('takes /bin/true as a success', () => {
    for (let i = 0; i < ROUNDS; i++) expect(() => runHooks('createRuntime', [{ path: '/bin/true' }], state)).not.toThrow();
  });

  it('still runs the next hook after one that ignored its stdin, and still fails one that cannot start', () => {
    expect(() => runHooks('poststop', [{ path: '/bin/true' }, { path: '/bin/false', args: ['false'] }], state)).toThrow(
      'poststop hook 1 (/bin/false): exit status 1',
    );
    expect(() => runHooks('prestart', [{ path: '/nonexistent/hook' }], state)).toThrow(
      /^prestart hook 0 \(\/nonexistent\/hook\): .*ENOENT/,
    );
  });
});

describe('a failing hook', () => {
  const state: OciState = { ociVersion: '1.2.0', id: 'c1', status: 'running', pid: 1, bundle: '/b' };
  /** hooks that each append their name to a file, with /bin/false second */
  function hooks(dir: string) {
    const mark = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${name} >> ${dir}/ran`] });
    return [mark('a'), { path: '/bin/false', args: ['false'] }, mark('b')];
  }

  it('poststart and poststop: warned of, and the hooks after it still run (the spec: as if it had succeeded)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-hooks-'));
    try {
      const warnings: string[] = [];
      runHooksPastFailures('poststart', hooks(dir), state, (m) => warnings.push(m));
      expect(fs.readFileSync(path.join(dir, 'ran'), 'utf8')).toBe('a\nb\n');
      expect(warnings).toEqual(['poststart hook 1 (/bin/false): exit status 1']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prestart and createRuntime: the first failure stops them (the create fails)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-hooks-'));
    try {
      expect(() => runHooks('prestart', hooks(dir), state)).toThrow('prestart hook 1 (/bin/false): exit status 1');
      expect(fs.readFileSync(path.join(dir, 'ran'), 'utf8')).toBe('a\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
