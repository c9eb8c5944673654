// The v1 manager on fixture hierarchies, as on a hybrid host (v1 controllers
// and a cgroup2 mount at unified) and a pure v1 one.
import { describe, expect, it } from 'vitest';
import { managerFromRecord, newManager } from '../../src/cgroups/manager.js';
import { v1Stats } from '../../src/cgroups/stats.js';
import { hybridFixture, managerPerTest } from './cgroup-fixture.js';

const LEAVES = [
  'blkio/tcr/c1',
  'cpu,cpuacct/tcr/c1',
  'cpuset/tcr/c1',
  'devices/tcr/c1',
  'freezer/tcr/c1',
  'memory/tcr/c1',
  'pids/tcr/c1',
  'unified/tcr/c1',
];

const t = managerPerTest(hybridFixture, '/tcr/c1');

const leafWrites = (leaf: string) => t.rec.writes.filter(([f]) => f.startsWith(leaf + '/')).map(([f, v]) => [f.slice(leaf.length + 1), v]);

describe('V1Manager on a hybrid fixture', () => {
  it("creates a directory in every hierarchy, cpuset levels copying their parent's cpus and mems", () => {
    t.cg.create();
    expect(t.fx.dirs().filter((d) => d.endsWith('/c1'))).toEqual(LEAVES);
    expect(t.rec.writes).toEqual([
      ['cpuset/tcr/cpuset.cpus', '0-3'],
      ['cpuset/tcr/cpuset.mems', '0'],
      ['cpuset/tcr/c1/cpuset.cpus', '0-3'],
      ['cpuset/tcr/c1/cpuset.mems', '0'],
    ]);
  });

  it('keeps a cpuset level that already has cpus', () => {
    t.fx.put('cpuset/tcr/cpuset.cpus', '1\n');
    t.fx.put('cpuset/tcr/cpuset.mems', '0\n');
    t.cg.create();
    expect(t.rec.writes).toEqual([
      ['cpuset/tcr/c1/cpuset.cpus', '1'],
      ['cpuset/tcr/c1/cpuset.mems', '0'],
    ]);
  });

  it('moves a process into every hierarchy, the cgroup2 mount too', () => {
    t.cg.create();
    t.cg.apply(4242);
    for (const leaf of LEAVES) expect(t.fx.read(`${leaf}/cgroup.procs`)).toBe('4242');
  });

  it("writes each limit to its controller's hierarchy, in v1 units", async () => {
    t.cg.create();
    t.rec.writes.length = 0;
    await t.cg.set({
      memory: { limit: 104857600, reservation: 52428800, swappiness: 10 },
      cpu: { shares: 1024, quota: 50000, period: 100000, cpus: '0-1' },
      pids: { limit: -1 },
      blockIO: { weight: 500, throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }] },
    });
    expect(leafWrites('memory/tcr/c1')).toEqual([
      ['memory.limit_in_bytes', '104857600'],
      ['memory.soft_limit_in_bytes', '52428800'],
      ['memory.swappiness', '10'],
    ]);
    expect(leafWrites('cpu,cpuacct/tcr/c1')).toEqual([
      ['cpu.shares', '1024'],
      ['cpu.cfs_period_us', '100000'],
      ['cpu.cfs_quota_us', '50000'],
    ]);
    expect(leafWrites('cpuset/tcr/c1')).toEqual([['cpuset.cpus', '0-1']]);
    expect(leafWrites('pids/tcr/c1')).toEqual([['pids.max', 'max']]);
    expect(leafWrites('blkio/tcr/c1')).toEqual([
      ['blkio.weight', '500'],
      ['blkio.throttle.read_bps_device', '8:0 1000'],
    ]);
    expect(t.rec.writes).toHaveLength(10);
  });

  it('raises memsw before the limit and lowers it after, where the kernel accounts swap', async () => {
    t.cg.create();
    t.fx.put('memory/tcr/c1/memory.memsw.limit_in_bytes', '9223372036854771712\n');
    t.rec.writes.length = 0;
    await t.cg.set({ memory: { limit: 1 << 27, swap: 1 << 28 } });
    expect(leafWrites('memory/tcr/c1').map(([f]) => f)).toEqual(['memory.limit_in_bytes', 'memory.memsw.limit_in_bytes']);
    t.fx.put('memory/tcr/c1/memory.memsw.limit_in_bytes', `${1 << 28}\n`);
    t.rec.writes.length = 0;
    await managerFromRecord(t.cg.record, t.fx.seams).set({ memory: { limit: 1 << 29, swap: 1 << 30 } });
    expect(leafWrites('memory/tcr/c1')).toEqual([
      ['memory.memsw.limit_in_bytes', String(1 << 30)],
      ['memory.limit_in_bytes', String(1 << 29)],
    ]);
  });

  it('leaves swap alone where the kernel has no memsw file', async () => {
    t.cg.create();
    await t.cg.set({ memory: { limit: 1 << 27, swap: 1 << 28 } });
    expect(t.fx.read('memory/tcr/c1/memory.memsw.limit_in_bytes')).toBeUndefined();
  });

  it("denies every device, then allows the spec's and the defaults in order", async () => {
    t.cg.create();
    t.rec.writes.length = 0;
    await t.cg.set({
      devices: [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 11, access: 'w' },
      ],
    });
    const w = leafWrites('devices/tcr/c1');
    expect(w.slice(0, 4)).toEqual([
      ['devices.deny', 'a'],
      ['devices.deny', 'a'],
      ['devices.allow', 'c 1:11 w'],
      ['devices.allow', 'c *:* m'],
    ]);
    expect(w.at(-1)).toEqual(['devices.allow', 'c 10:200 rwm']);
  });

  it('writes hugetlb to the cgroup2 mount where the host has it only there, enabling it down the path', async () => {
    t.cg.create();
    t.rec.writes.length = 0;
    await t.cg.set({ hugepageLimits: [{ pageSize: '2MB', limit: 4194304 }] });
    expect(t.rec.writes).toEqual([
      ['unified/cgroup.subtree_control', '+hugetlb'],
      ['unified/tcr/cgroup.subtree_control', '+hugetlb'],
      ['unified/tcr/c1/hugetlb.2MB.max', '4194304'],
    ]);
  });

  it('writes unified keys to the cgroup2 mount', async () => {
    t.cg.create();
    await t.cg.set({ unified: { 'hugetlb.1GB.max': '0' } });
    expect(t.fx.read('unified/tcr/c1/hugetlb.1GB.max')).toBe('0');
  });

  it('names the field whose controller is not mounted', async () => {
    t.cg.create();
    await expect(t.cg.set({ network: { classID: 0x100001 } })).rejects.toThrow(
      'cgroup: linux.resources.network.classID needs the net_cls controller, which this host does not mount',
    );
    await expect(t.cg.set({ network: { priorities: [{ name: 'eth0', priority: 1 }] } })).rejects.toThrow(
      'linux.resources.network.priorities[0] needs the net_prio controller',
    );
  });

  it('refuses a bad device rule before writing any', async () => {
    t.cg.create();
    t.rec.writes.length = 0;
    await expect(t.cg.set({ devices: [{ allow: true, type: 'x', access: 'rwm' }] })).rejects.toThrow(
      /linux\.resources\.devices\[0\]\.type/,
    );
    expect(t.rec.writes).toEqual([]);
  });

  it('pauses through the freezer', () => {
    t.cg.create();
    expect(t.cg.isFrozen()).toBe(false);
    t.cg.freeze();
    expect(t.fx.read('freezer/tcr/c1/freezer.state')).toBe('FROZEN');
    expect(t.cg.isFrozen()).toBe(true);
    t.cg.thaw();
    expect(t.fx.read('freezer/tcr/c1/freezer.state')).toBe('THAWED');
    expect(t.cg.isFrozen()).toBe(false);
  });

  it('lists processes from the pids hierarchy', () => {
    t.cg.create();
    t.fx.put('pids/tcr/c1/cgroup.procs', '10\n11\n');
    expect(t.cg.procs()).toEqual([10, 11]);
  });

  it("reads stats and OOM kills in runc's units", () => {
    t.cg.create();
    const acct = 'cpu,cpuacct/tcr/c1';
    t.fx.put(`${acct}/cpuacct.usage`, '123456\n');
    t.fx.put(`${acct}/cpuacct.usage_percpu`, '100 200 \n');
    t.fx.put(`${acct}/cpuacct.stat`, 'user 10\nsystem 5\n');
    t.fx.put(`${acct}/cpu.stat`, 'nr_periods 4\nnr_throttled 1\nthrottled_time 99\n');
    t.fx.put('memory/tcr/c1/memory.limit_in_bytes', '1048576\n');
    t.fx.put('memory/tcr/c1/memory.usage_in_bytes', '4096\n');
    t.fx.put('memory/tcr/c1/memory.stat', 'cache 8192\nrss 4096\n');
    t.fx.put('memory/tcr/c1/memory.oom_control', 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n');
    t.fx.put('pids/tcr/c1/pids.current', '3\n');
    t.fx.put('pids/tcr/c1/pids.max', 'max\n');
    const s = t.cg.stats();
    expect(s.cpu.usage).toMatchObject({ total: 123456, percpu: [100, 200], user: 100_000_000, kernel: 50_000_000 });
    expect(s.cpu.throttling).toEqual({ periods: 4, throttled_periods: 1, throttled_time: 99 });
    expect(s.memory.usage).toEqual({ limit: 1048576, usage: 4096, max: 0, failcnt: 0 });
    expect(s.memory.cache).toBe(8192);
    expect(s.pids).toEqual({ current: 3, limit: 2 ** 64 - 1 });
    expect(t.cg.oomKills()).toBe(2);
  });

  it("reads hugetlb from the v1 hierarchy, or the cgroup2 mount's files where it is only there", () => {
    t.fx.put('unified/tcr/c1/hugetlb.2MB.current', '2097152\n');
    t.fx.put('unified/tcr/c1/hugetlb.2MB.events', 'max 4\n');
    t.fx.put('hugetlb/tcr/c1/hugetlb.2MB.usage_in_bytes', '1\n');
    t.fx.put('hugetlb/tcr/c1/hugetlb.2MB.max_usage_in_bytes', '2\n');
    t.fx.put('hugetlb/tcr/c1/hugetlb.2MB.failcnt', '3\n');
    const dirs: Record<string, string> = { unified: `${t.fx.root}/unified/tcr/c1` };
    expect(
      v1Stats(
        (n) => dirs[n],
        () => ['2MB'],
      ).hugetlb,
    ).toEqual({ '2MB': { usage: 2097152, failcnt: 4 } });
    dirs.hugetlb = `${t.fx.root}/hugetlb/tcr/c1`;
    expect(
      v1Stats(
        (n) => dirs[n],
        () => ['2MB'],
      ).hugetlb,
    ).toEqual({ '2MB': { usage: 1, max: 2, failcnt: 3 } });
  });

  it('removes its directory in every hierarchy, leaving the parents', async () => {
    t.cg.create();
    await t.cg.destroy();
    expect(t.fx.dirs().filter((d) => d.endsWith('/c1'))).toEqual([]);
    expect(t.fx.dirs()).toContain('memory/tcr');
  });

  it('is rebuilt from its record with each directory in its hierarchy', async () => {
    t.cg.create();
    const again = managerFromRecord(JSON.parse(JSON.stringify(t.cg.record)), t.fx.seams);
    await again.set({ pids: { limit: 20 } });
    expect(t.fx.read('pids/tcr/c1/pids.max')).toBe('20');
    expect(again.unifiedDir()).toBe(`${t.fx.root}/unified/tcr/c1`);
  });
});

// A shared hierarchy as hosts spell it: mounted on "cpu,cpuacct" with a "cpu" link to it, or on
// "cpu" with a "cpuacct" link. /proc/self/cgroup says "cpu,cpuacct" either way.
describe.each<{ dir: string; links: Record<string, string> }>([
  { dir: 'cpu,cpuacct', links: { cpu: 'cpu,cpuacct', cpuacct: 'cpu,cpuacct' } },
  { dir: 'cpu', links: { cpuacct: 'cpu' } },
])('V1Manager with cpu and cpuacct shared, mounted on $dir', ({ dir, links }) => {
  const hierarchies = [dir, 'cpuset', 'memory', 'pids'];
  const self = () => '9:name=systemd:/\n5:pids:/mine\n4:memory:/mine\n3:cpuset:/\n2:cpu,cpuacct:/mine\n0::/\n';
  const s = managerPerTest(() => {
    const fx = hybridFixture({ hierarchies, options: { [dir]: 'cpu,cpuacct' }, links });
    fx.seams.selfCgroup = self;
    return fx;
  }, 'pods/c1');

  it("puts a relative path under the runtime's own cgroup in every hierarchy, the shared one too", () => {
    expect(s.cg.record.dirs.map((d) => d.slice(s.fx.root.length + 1))).toEqual([
      `${dir}/mine/pods/c1`,
      'cpuset/pods/c1',
      'memory/mine/pods/c1',
      'pids/mine/pods/c1',
      'unified/pods/c1',
    ]);
    s.cg.create();
    expect(s.fx.dirs()).toContain(`${dir}/mine/pods/c1`);
  });

  it('writes cpu limits and reads cpuacct usage in the shared directory', async () => {
    s.cg.create();
    await s.cg.set({ cpu: { shares: 512 } });
    expect(s.fx.read(`${dir}/mine/pods/c1/cpu.shares`)).toBe('512');
    s.fx.put(`${dir}/mine/pods/c1/cpuacct.usage`, '777\n');
    expect(s.cg.stats().cpu.usage.total).toBe(777);
  });
});

describe('V1Manager on a pure v1 fixture', () => {
  it('has no cgroup2 directory, and refuses unified keys and hugetlb it cannot place', async () => {
    const pure = hybridFixture({ unified: false, hierarchies: ['memory', 'pids'] });
    try {
      const m = newManager('/tcr/p', pure.seams);
      m.create();
      expect(m.unifiedDir()).toBeUndefined();
      await expect(m.set({ unified: { 'memory.high': '1' } })).rejects.toThrow(
        'linux.resources.unified: needs cgroup v2, and this host has only v1 hierarchies',
      );
      await expect(m.set({ hugepageLimits: [{ pageSize: '2MB', limit: 1 }] })).rejects.toThrow(
        'cgroup: linux.resources needs the hugetlb controller, which this host does not mount',
      );
      expect(() => m.freeze()).toThrow('cgroup: pausing needs the freezer controller, which this host does not mount');
    } finally {
      pure.cleanup();
    }
  });
});
