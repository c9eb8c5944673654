// Which manager a host gets, from its mountinfo text alone.
import { describe, expect, it } from 'vitest';
import { CGROUP_ROOT, parseCgroupLayout } from '../../src/cgroups/detect.js';
import { managerFor, managerFromRecord, newManager } from '../../src/cgroups/manager.js';
import { V1Manager } from '../../src/cgroups/v1.js';
import { V2Manager } from '../../src/cgroups/v2.js';
import { mountLine } from './cgroup-fixture.js';

const text = (...lines: string[]) => ['22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw', ...lines, ''].join('\n');
const v1Lines = ['cpu,cpuacct', 'memory', 'pids'].map((h, i) => mountLine(41 + i, `/sys/fs/cgroup/${h}`, 'cgroup', `rw,${h}`));

describe('parseCgroupLayout', () => {
  it('reads a pure v2 host: /sys/fs/cgroup is the cgroup2 mount', () => {
    const l = parseCgroupLayout(text(mountLine(30, '/sys/fs/cgroup', 'cgroup2', 'rw,nsdelegate')));
    expect(l).toEqual({
      root: CGROUP_ROOT,
      unified: true,
      v1Hierarchies: [],
      mountPoints: new Map(),
      controllers: new Map(),
      mountRoots: new Map(),
    });
  });

  it('reads a pure v1 host: each hierarchy by its directory name, shared ones whole', () => {
    const l = parseCgroupLayout(text(mountLine(30, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'), ...v1Lines));
    expect(l.unified).toBe(false);
    expect(l.v1Hierarchies).toEqual(['cpu,cpuacct', 'memory', 'pids']);
    expect(l.mountPoints.get('cpu,cpuacct')).toBe('/sys/fs/cgroup/cpu,cpuacct');
  });

  it("reads each hierarchy's controllers from its super options, without the flags, and the root it shows", () => {
    const l = parseCgroupLayout(
      text(
        mountLine(30, '/sys/fs/cgroup', 'tmpfs', 'rw,mode=755'),
        mountLine(41, '/sys/fs/cgroup/cpu', 'cgroup', 'rw,cpu,cpuacct'),
        mountLine(42, '/sys/fs/cgroup/cpuset', 'cgroup', 'rw,cpuset,clone_children'),
        mountLine(43, '/sys/fs/cgroup/systemd', 'cgroup', 'rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd'),
        '44 31 0:44 /docker/abc /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory',
        mountLine(60, '/sys/fs/cgroup/unified', 'cgroup2', 'rw,nsdelegate'),
      ),
    );
    expect(l.controllers).toEqual(
      new Map([
        ['cpu', new Set(['cpu', 'cpuacct'])],
        ['cpuset', new Set(['cpuset'])],
        ['systemd', new Set(['name=systemd'])],
        ['memory', new Set(['memory'])],
        ['unified', new Set()],
      ]),
    );
    expect(l.mountRoots.get('memory')).toBe('/docker/abc');
    expect(l.mountRoots.get('cpu')).toBe('/');
  });

  it('reads a hybrid host: the cgroup2 mount at unified is one more hierarchy', () => {
    const l = parseCgroupLayout(
      text(mountLine(30, '/sys/fs/cgroup', 'tmpfs'), ...v1Lines, mountLine(60, '/sys/fs/cgroup/unified', 'cgroup2')),
    );
    expect(l.unified).toBe(false);
    expect(l.v1Hierarchies).toEqual(['cpu,cpuacct', 'memory', 'pids', 'unified']);
    expect(l.mountPoints.get('unified')).toBe('/sys/fs/cgroup/unified');
  });

  it('ignores other file systems and cgroup mounts outside the root', () => {
    const l = parseCgroupLayout(
      text(
        mountLine(30, '/sys/fs/cgroup', 'tmpfs'),
        mountLine(31, '/sys/fs/cgroup/bpf', 'bpf'),
        mountLine(32, '/run/other/memory', 'cgroup', 'rw,memory'),
        mountLine(33, '/sys/fs/cgroupx/pids', 'cgroup', 'rw,pids'),
        'no separator here',
      ),
    );
    expect(l.v1Hierarchies).toEqual([]);
  });

  it('takes any root, so fixtures stand in for /sys/fs/cgroup', () => {
    const l = parseCgroupLayout(text(mountLine(30, '/tmp/fx', 'cgroup2'), mountLine(31, '/sys/fs/cgroup', 'cgroup2')), '/tmp/fx');
    expect(l).toMatchObject({ root: '/tmp/fx', unified: true });
  });
});

describe('the manager a layout gets', () => {
  const v2 = parseCgroupLayout(text(mountLine(30, '/fx', 'cgroup2')), '/fx');
  const hybrid = parseCgroupLayout(
    text(...['memory', 'pids'].map((h, i) => mountLine(41 + i, `/fx/${h}`, 'cgroup', `rw,${h}`)), mountLine(60, '/fx/unified', 'cgroup2')),
    '/fx',
  );

  it('is v2 on a unified root, one directory under it', () => {
    const m = newManager('/tcr/a', { layout: v2 });
    expect(m).toBeInstanceOf(V2Manager);
    expect(m.record).toEqual({ kind: 'v2', path: '/tcr/a', dirs: ['/fx/tcr/a'] });
    expect(m.unifiedDir()).toBe('/fx/tcr/a');
  });

  it('is v1 elsewhere, one directory per hierarchy, and tracks the hybrid cgroup2 mount', () => {
    const m = managerFor(undefined, 'b', false, { layout: hybrid });
    expect(m).toBeInstanceOf(V1Manager);
    expect(m.record).toEqual({ kind: 'v1', path: '/tcr/b', dirs: ['/fx/memory/tcr/b', '/fx/pids/tcr/b', '/fx/unified/tcr/b'] });
    expect(m.unifiedDir()).toBe('/fx/unified/tcr/b');
    expect(managerFromRecord(m.record, { layout: hybrid }).mountSources()).toEqual(m.mountSources());
  });

  it("puts relative paths under the runtime's own cgroup (v2: its parent)", () => {
    const selfCgroup = () => '0::/user.slice/session-3.scope\n';
    expect(newManager('pods/c', { layout: v2, selfCgroup }).record.dirs).toEqual(['/fx/user.slice/pods/c']);
    const v1Self = () => '5:memory:/mine\n4:pids:/\n0::/u\n';
    expect(newManager('pods/c', { layout: hybrid, selfCgroup: v1Self }).record.dirs).toEqual([
      '/fx/memory/mine/pods/c',
      '/fx/pids/pods/c',
      '/fx/unified/u/pods/c',
    ]);
  });

  // /proc/self/cgroup names a shared hierarchy by its controllers, comma-joined in the kernel's
  // order ("cpu,cpuacct"); the layout by the directory it is mounted on, which may be spelled the
  // same, the other way round, or after one controller (with the other name a symlink to it).
  // Before hierarchies were matched by controller set, a relative path landed under the root.
  for (const dir of ['cpu,cpuacct', 'cpuacct,cpu', 'cpu'])
    it(`puts relative paths under the runtime's own cgroup in a shared hierarchy mounted on ${dir}`, () => {
      const shared = parseCgroupLayout(
        text(mountLine(41, `/fx/${dir}`, 'cgroup', 'rw,cpu,cpuacct'), mountLine(42, '/fx/systemd', 'cgroup', 'rw,xattr,name=systemd')),
        '/fx',
      );
      const self = () => '9:name=systemd:/user.slice/s.scope\n3:cpu,cpuacct:/mine\n0::/\n';
      expect(newManager('pods/c', { layout: shared, selfCgroup: self }).record.dirs).toEqual([
        `/fx/${dir}/mine/pods/c`,
        '/fx/systemd/user.slice/s.scope/pods/c',
      ]);
      expect(newManager('/pods/c', { layout: shared, selfCgroup: self }).record.dirs).toEqual([`/fx/${dir}/pods/c`, '/fx/systemd/pods/c']); // absolute: from the root
    });

  it("matches a named hierarchy by its name= whatever its directory, and takes a mounted sub-tree's root off", () => {
    const l = parseCgroupLayout(
      text(
        mountLine(41, '/fx/elogind', 'cgroup', 'rw,name=elogind'),
        '44 31 0:44 /docker/abc /fx/memory ro,nosuid - cgroup cgroup rw,memory',
        '45 31 0:45 /docker /fx/pids ro - cgroup cgroup rw,pids',
      ),
      '/fx',
    );
    const self = () => '2:name=elogind:/e\n4:memory:/docker/abc/inner\n5:pids:/elsewhere\n';
    // pids: the runtime's cgroup is outside what is mounted, so the mount's own top
    expect(newManager('c', { layout: l, selfCgroup: self }).record.dirs).toEqual(['/fx/elogind/e/c', '/fx/memory/inner/c', '/fx/pids/c']);
  });

  it('refuses a host with no hierarchy, and systemd on v1, naming the root', () => {
    const none = parseCgroupLayout(text(mountLine(30, '/fx', 'tmpfs')), '/fx');
    expect(() => newManager('/tcr/x', { layout: none })).toThrow('cgroup: no cgroup hierarchy is mounted under /fx');
    expect(() => managerFor(undefined, 'x', true, { layout: hybrid })).toThrow(
      /--systemd-cgroup: .*needs cgroup v2.*this host mounts v1 or hybrid/,
    );
  });
});
