// tcr as a library: one Node process that launches and waits on many
// containers at once. Waiting on a container must not hold one of libuv's
// four pool threads (then a fifth wait, or any fs.promises call of the
// program, would hang until a container ended), and launches started
// together must all come through.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks } from '../helpers.js';
import { expectNothingLeft, uniqueId } from './lib.js';
import { Runtime } from '../../src/container/runtime.js';

describe.skipIf(lacks(isRoot))('tcr as a library', () => {
  let sb: Sandbox;
  let rt: Runtime;
  let devnull: number;
  beforeAll(() => {
    sb = new Sandbox('tcr-library');
    rt = new Runtime({ root: sb.root });
    devnull = fs.openSync('/dev/null', 'r+');
  });
  afterAll(() => {
    fs.closeSync(devnull);
    sb.cleanup();
  });

  it('six attached containers waited on at once leave the thread pool free', async () => {
    const bundle = sb.bundle('sleeper', (s) => {
      s.process!.args = ['sleep', '60'];
    });
    const pids: number[] = [];
    const runs = Array.from({ length: 6 }, () =>
      rt.run(uniqueId('lib'), { bundle, stdio: [devnull, devnull, devnull], onRunning: (pid) => pids.push(pid) }),
    );
    try {
      while (pids.length < 6) await new Promise((r) => setTimeout(r, 20));
      // more waits than pool threads are pending: a pool-bound call still completes, while every container runs
      const text = await fs.promises.readFile('/proc/self/stat', 'utf8');
      expect(text).toMatch(/^\d+ /);
      for (const pid of pids) expect(fs.existsSync(`/proc/${pid}`)).toBe(true);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGKILL');
    }
    expect(await Promise.all(runs)).toEqual(Array(6).fill(137));
    expectNothingLeft(sb);
  }, 60_000);

  it('four launches started together each run and exit 0', async () => {
    const bundle = sb.bundle('true', (s) => {
      s.process!.args = ['true'];
    });
    const ids = Array.from({ length: 4 }, () => uniqueId('lib'));
    const statuses = await Promise.all(ids.map((id) => rt.run(id, { bundle, stdio: [devnull, devnull, devnull] })));
    expect(statuses).toEqual([0, 0, 0, 0]);
    expectNothingLeft(sb);
  }, 60_000);
});
