// Launch's two halves of a spawn: the executor runs when the constructor
// returns, and the init it clones is known only once follow() has read stage
// 1's report (waited for on the event loop, so launches in one process
// overlap). An undo before that must still find the init and stop it.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Launch } from '../../src/container/launcher.js';
import { SyncPoint, type Plan } from '../../src/linux/plan.js';
import { FAKE_PID, ScriptedExecutor } from './scripted-executor.js';

const plan: Plan = { steps: [], stage1Steps: 0, cloneFlags: 0, keepFds: 3 };

describe('Launch', () => {
  it('knows the init only after follow has read stage 1 report', async () => {
    const executor = new ScriptedExecutor([{ sync: SyncPoint.ready }]);
    const launch = new Launch(plan, { executor });
    expect(launch.pid).toBe(-1);
    expect(executor.log).toEqual(['spawn']);
    const seen: number[] = [];
    await launch.follow((_point, pid) => void seen.push(pid), true);
    expect(launch.pid).toBe(FAKE_PID);
    expect(seen).toEqual([FAKE_PID]);
    expect(executor.log).toEqual(['spawn', 'started', 'sync ready', 'continue', 'eof']);
  });

  it('an abort before follow reads the report, then stops and reaps the init', () => {
    const executor = new ScriptedExecutor([]);
    const launch = new Launch(plan, { executor });
    launch.abort();
    expect(launch.pid).toBe(FAKE_PID);
    expect(executor.log).toEqual(['spawn', 'started', 'kill init SIGKILL', 'waitpid init', 'close sock']);
  });
});

/** The executor spawned on the thread pool: the spawn completes a few ticks after it is asked for. */
class PoolExecutor extends ScriptedExecutor {
  async spawnAsync(plan: Buffer, stdio: number[], cgroupFd: number, slotFd: number) {
    this.log.push('spawnAsync');
    const s = this.spawn(plan, stdio, cgroupFd, slotFd);
    await new Promise((r) => setTimeout(r, 5));
    return s;
  }
}

describe('Launch with the spawn on the thread pool', () => {
  // another launch of this process under way: the spawn goes to the pool only then
  let other: Launch;
  beforeEach(() => {
    other = new Launch(plan, { executor: new ScriptedExecutor([]) });
  });
  afterEach(() => other.abort());

  it('alone, a launch spawns on this thread: the hop to the pool would only add to its time', () => {
    other.abort();
    const executor = new PoolExecutor([]);
    new Launch(plan, { executor }).abort();
    expect(executor.log[0]).toBe('spawn');
  });

  it('follow waits for the spawn, then reads stage 1 report', async () => {
    const executor = new PoolExecutor([{ sync: SyncPoint.ready }]);
    const launch = new Launch(plan, { executor });
    expect(executor.log).toEqual(['spawnAsync', 'spawn']);
    await launch.follow(() => {}, true);
    expect(launch.pid).toBe(FAKE_PID);
    expect(executor.log).toEqual(['spawnAsync', 'spawn', 'started', 'sync ready', 'continue', 'eof']);
  });

  it('fds past stdio passed on: the spawn stays on this thread, which alone knows the locks it holds then', () => {
    const executor = new PoolExecutor([]);
    new Launch({ ...plan, keepFds: 5 }, { executor }).abort();
    expect(executor.log[0]).toBe('spawn');
  });

  it('an abort before the spawn is done stops and reaps the init once it is', async () => {
    const executor = new PoolExecutor([]);
    const launch = new Launch(plan, { executor });
    launch.abort();
    expect(executor.log).toEqual(['spawnAsync', 'spawn']);
    await new Promise((r) => setTimeout(r, 20));
    expect(executor.log).toEqual(['spawnAsync', 'spawn', 'started', 'kill init SIGKILL', 'waitpid init', 'close sock']);
  });

  it("a failed spawn is follow's error", async () => {
    const executor = new PoolExecutor([], { spawnError: new Error('start of the executor: ENOENT') });
    const launch = new Launch(plan, { executor });
    await expect(launch.follow(() => {}, true)).rejects.toThrow('start of the executor: ENOENT');
  });
});
