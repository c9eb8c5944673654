// The engine bundle's code cache is taken after src/cli/engine-warm-up.ts has
// run its commands on a scratch root (scripts/bundle.mjs): that run must see
// both records, leave nothing behind, and not change the maker's exit status,
// whatever the commands do.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { warmUpEngine } from '../../src/cli/engine-warm-up.js';

const scratchRoots = () => fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('tcr-engine-warm-up-'));

describe('the engine warm-up', () => {
  it('runs each engine command once on a running and a stopped record, in a scratch root it removes', async () => {
    const before = scratchRoots();
    const seen: { argv: string[]; states: string[]; pids: number[] }[] = [];
    const statuses = await warmUpEngine(async (argv) => {
      const root = argv[1];
      const states = fs
        .readdirSync(root)
        .filter((d) => fs.existsSync(path.join(root, d, 'state.json')))
        .sort();
      const pids = states.map((d) => (JSON.parse(fs.readFileSync(path.join(root, d, 'state.json'), 'utf8')) as { pid: number }).pid);
      seen.push({ argv, states, pids });
      return argv[2] === 'start' ? 1 : 0;
    });
    expect(statuses).toEqual([0, 0, 0, 0, 1, 0, 0]);
    expect(seen.map((s) => s.argv.slice(2).join(' '))).toEqual([
      'state running',
      'list',
      'list -q',
      'list --format json',
      'start stopped',
      'kill stopped KILL',
      'delete stopped',
    ]);
    for (const s of seen) expect(s.argv[0]).toBe('--root');
    // the running container's init is this process; the stopped one has none
    expect(seen[0].states).toEqual(['running', 'stopped']);
    expect(seen[0].pids).toEqual([process.pid, 0]);
    expect(fs.existsSync(seen[0].argv[1])).toBe(false);
    expect(scratchRoots()).toEqual(before);
  });

  it('keeps the exit status the process had, and removes the scratch root when a command throws', async () => {
    const before = scratchRoots();
    process.exitCode = undefined;
    await expect(
      warmUpEngine(async () => {
        process.exitCode = 3;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(process.exitCode).toBeUndefined();
    expect(scratchRoots()).toEqual(before);
  });
});
