// tcr as a library: one Node process that launches and waits on many
// containers at once. Waiting on a container must not hold one of libuv's
// four pool threads (then a fifth wait, or any fs.promises call of the
// program, would hang until a container ended), and launches started
// together must all come through.
import fs from 'node:fs';
import path from 'node:path';
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

  it("no fd of the runtime's reaches a container, even where a --preserve-fds range covers numbers the caller never opened", async () => {
    const bundle = sb.bundle('fds', (s) => {
      s.process!.args = ['sh', '-c', 'ls -l /proc/$$/fd'];
    });
    const out = path.join(bundle, 'fds.out');
    const fd = fs.openSync(out, 'w');
    // eight holes at the lowest free numbers: the launch's own fds (its lock, the cgroup
    // directory, the executor's memfd, the socket and pipe to it) are made into them
    const holes = Array.from({ length: 8 }, () => fs.openSync('/dev/null', 'r'));
    for (const h of holes) fs.closeSync(h);
    try {
      const preserveFds = Math.max(...holes) + 1 - 3;
      expect(await rt.run(uniqueId('lib'), { bundle, stdio: [devnull, fd, fd], preserveFds })).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    const seen = fs.readFileSync(out, 'utf8');
    expect(seen).toMatch(/ 0 -> \/dev\/null$/m);
    const numbers = [...seen.matchAll(/ (\d+) -> /g)].map((m) => Number(m[1]));
    // `ls` reads the directory through an fd of its own, which may take a hole too
    const lsOwn = [...seen.matchAll(/ (\d+) -> \/proc\/\d+\/fd$/gm)].map((m) => Number(m[1]));
    expect(numbers.filter((n) => holes.includes(n) && !lsOwn.includes(n))).toEqual([]);
    expect(seen).not.toMatch(/tcr-executor|\/lock$|cgroup/m);
    expectNothingLeft(sb);
  }, 60_000);
});
