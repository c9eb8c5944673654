// Launch's two halves of a spawn: the executor runs when the constructor
// returns, and the init it clones is known only once follow() has read stage
// 1's report (waited for on the event loop, so launches in one process
// overlap). An undo before that must still find the init and stop it.
import { describe, expect, it } from 'vitest';
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
