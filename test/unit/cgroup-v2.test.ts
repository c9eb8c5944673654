// The v2 manager on a fixture cgroup2 tree: what it writes where, what it
// reads back, and how it fails.
import { describe, expect, it } from 'vitest';
import { managerFromRecord, newManager } from '../../src/cgroups/manager.js';
import { v2Stats } from '../../src/cgroups/stats.js';
import { kernelRmdir, managerPerTest, v2Fixture } from './cgroup-fixture.js';

const t = managerPerTest(v2Fixture, '/tcr/c1');

describe('V2Manager on a fixture tree', () => {
  it('creates one directory and moves a process in', () => {
    t.cg.create();
    expect(t.fx.dirs()).toEqual(['tcr', 'tcr/c1']);
    t.cg.apply(4242);
    expect(t.fx.read('tcr/c1/cgroup.procs')).toBe('4242');
    expect(t.cg.mountSources()).toEqual(new Map([['', `${t.fx.root}/tcr/c1`]]));
  });

  it("enables what the limits need down the path, then writes them with runc's conversions", async () => {
    t.cg.create();
    await t.cg.set({
      memory: { limit: 104857600, swap: 209715200, reservation: 52428800 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1', mems: '0' },
      pids: { limit: -1 },
      blockIO: { weight: 500 },
    });
    const enable = '+memory +cpu +cpuset +pids +io';
    expect(t.rec.writes).toEqual([
      ['cgroup.subtree_control', enable],
      ['tcr/cgroup.subtree_control', enable],
      ['tcr/c1/memory.max', '104857600'],
      ['tcr/c1/memory.low', '52428800'],
      ['tcr/c1/memory.swap.max', '104857600'], // memory+swap 200M less memory 100M
      ['tcr/c1/cpu.weight', '39'], // shares 1024
      ['tcr/c1/cpu.max', '50000 100000'],
      ['tcr/c1/cpuset.cpus', '0-1'],
      ['tcr/c1/cpuset.mems', '0'],
      ['tcr/c1/pids.max', 'max'],
      ['tcr/c1/io.weight', 'default 4950'], // blkio 500
    ]);
  });

  it('enables only the controllers an ancestor lacks', async () => {
    t.fx.put('cgroup.subtree_control', 'cpu memory\n');
    t.cg.create();
    await t.cg.set({ memory: { limit: 1 << 20 }, pids: { limit: 10 } });
    expect(t.rec.writes.slice(0, 2)).toEqual([
      ['cgroup.subtree_control', '+pids'],
      ['tcr/cgroup.subtree_control', '+memory +pids'],
    ]);
  });

  it('updates a container rebuilt from its record', async () => {
    t.cg.create();
    await managerFromRecord(JSON.parse(JSON.stringify(t.cg.record)), t.fx.seams).set({ pids: { limit: 50 }, cpu: { quota: -1 } });
    expect(t.fx.read('tcr/c1/pids.max')).toBe('50');
    expect(t.fx.read('tcr/c1/cpu.max')).toBe('max 100000');
  });

  it('refuses a controller the host does not offer before writing anything', async () => {
    const bare = v2Fixture('cpu memory');
    try {
      const m = newManager('/tcr/c2', bare.seams);
      m.create();
      await expect(m.set({ memory: { limit: 1 << 20 }, pids: { limit: 5 } })).rejects.toThrow(
        "cgroup: linux.resources needs the pids controller, which this host's cgroup v2 does not offer",
      );
      expect(bare.read('tcr/c2/memory.max')).toBeUndefined();
    } finally {
      bare.cleanup();
    }
  });

  it('names the file and value of a write the kernel refuses', async () => {
    t.cg.create();
    t.fx.put('tcr/c1/pids.max/x', ''); // a directory where the control file is: EISDIR
    await expect(t.cg.set({ pids: { limit: 7 } })).rejects.toThrow(`cgroup: writing "7" to ${t.fx.root}/tcr/c1/pids.max: EISDIR`);
    expect(() => newManager('/tcr/none', t.fx.seams).apply(1)).toThrow(
      `cgroup: ${t.fx.root}/tcr/none/cgroup.procs does not exist: the kernel has no such control (value "1")`,
    );
  });

  it('pauses through cgroup.freeze and kills through cgroup.kill', () => {
    t.cg.create();
    t.fx.put('tcr/c1/cgroup.events', 'populated 1\nfrozen 1\n');
    expect(t.cg.isFrozen()).toBe(false);
    t.cg.freeze();
    expect(t.cg.isFrozen()).toBe(true);
    t.cg.thaw();
    expect(t.fx.read('tcr/c1/cgroup.freeze')).toBe('0');
    t.fx.put('tcr/c1/cgroup.kill', '');
    t.cg.signalAll(9);
    expect(t.rec.writes.map(([f, v]) => `${f}=${v}`)).toEqual(['tcr/c1/cgroup.freeze=1', 'tcr/c1/cgroup.freeze=0', 'tcr/c1/cgroup.kill=1']);
  });

  it("reads stats and OOM kills in runc's units", () => {
    t.cg.create();
    t.fx.put('tcr/c1/cpu.stat', 'usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 4\nnr_throttled 1\nthrottled_usec 7\n');
    t.fx.put('tcr/c1/memory.stat', 'anon 8192\nfile 4096\n');
    t.fx.put('tcr/c1/memory.current', '12288\n');
    t.fx.put('tcr/c1/memory.max', 'max\n');
    t.fx.put('tcr/c1/memory.events', 'low 0\nmax 2\noom 1\noom_kill 3\n');
    t.fx.put('tcr/c1/pids.current', '3\n');
    t.fx.put('tcr/c1/pids.max', '64\n');
    t.fx.put('tcr/c1/io.stat', '8:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n');
    const s = t.cg.stats();
    expect(s.cpu).toEqual({
      usage: { total: 1_500_000, user: 1_000_000, kernel: 500_000 },
      throttling: { periods: 4, throttled_periods: 1, throttled_time: 7000 },
    });
    expect(s.memory.usage).toEqual({ limit: 2 ** 64 - 1, usage: 12288, max: 0, failcnt: 2 });
    expect(s.memory.cache).toBe(4096);
    expect(s.pids).toEqual({ current: 3, limit: 64 });
    expect(s.blkio.ioServiceBytesRecursive).toEqual([
      { major: 8, minor: 0, op: 'Read', value: 10 },
      { major: 8, minor: 0, op: 'Write', value: 20 },
    ]);
    expect(s.blkio.ioServicedRecursive?.map((e) => e.value)).toEqual([1, 2]);
    expect(t.cg.oomKills()).toBe(3);
  });

  it('reads hugetlb stats for the sizes the host has', () => {
    t.fx.put('tcr/c1/hugetlb.2MB.current', '2097152\n');
    t.fx.put('tcr/c1/hugetlb.2MB.max', 'max\n');
    t.fx.put('tcr/c1/hugetlb.2MB.events', 'max 5\n');
    const s = v2Stats(`${t.fx.root}/tcr/c1`, () => ['2MB', '1GB']);
    expect(s.hugetlb).toEqual({ '2MB': { usage: 2097152, max: 2 ** 64 - 1, failcnt: 5 } });
  });

  it('removes only its own directory, once empty', async () => {
    t.cg.create();
    t.cg.apply(99);
    await expect(t.cg.destroy()).rejects.toThrow(`cgroup: cannot remove ${t.fx.root}/tcr/c1: EBUSY`);
    t.fx.put('tcr/c1/cgroup.procs', '');
    await t.cg.destroy();
    expect(t.fx.dirs()).toEqual(['tcr']);
  });

  it('retries while a killed task is still leaving', async () => {
    t.cg.create();
    let calls = 0;
    const busy = Object.assign(new Error('EBUSY'), { code: 'EBUSY' });
    const m = managerFromRecord(t.cg.record, {
      ...t.fx.seams,
      rmdir: (d) => {
        if (++calls < 3) throw busy;
        kernelRmdir(d);
      },
    });
    await m.destroy();
    expect(calls).toBe(3);
    expect(t.fx.dirs()).toEqual(['tcr']);
  });
});
