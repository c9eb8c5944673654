// The decisions of an ordinary user's create, without running anything: the
// default state root, the subordinate ranges, the cgroup a user gets, and
// the plan's order (the init dumpable for the map writers, no setgroups
// where the namespace denies it). test/integration/rootless.test.ts runs it.
import { describe, expect, it } from 'vitest';
import { ownCgroupSources, refuseLimitsWithoutCgroup, userCgroup } from '../../src/cgroups/delegation.js';
import { defaultStateRoot } from '../../src/container/state-root.js';
import { onlyOwnId, subordinateRanges } from '../../src/container/rootless.js';
import { buildLaunchPlan } from '../../src/linux/launch-plan.js';
import { PlanOp, type PlanStep } from '../../src/linux/plan-steps.js';
import { PR } from '../../src/linux/process.js';
import { SyncPoint } from '../../src/linux/plan.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import { hybridFixture, v2Fixture } from './cgroup-fixture.js';

describe('the default --root', () => {
  it('is /run/tcr for root, $XDG_RUNTIME_DIR/tcr for a user, else /run/user/UID/tcr (runc keeps $XDG_RUNTIME_DIR/runc)', () => {
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 0)).toBe('/run/tcr');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/tcr');
    expect(defaultStateRoot({}, 1000)).toBe('/run/user/1000/tcr');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '' }, 1234)).toBe('/run/user/1234/tcr');
  });
});

describe('id maps', () => {
  it('reads /etc/subuid by name or by uid, as newuidmap does', () => {
    const text = 'alice:100000:65536\n1000:300000:10\nbob:200000:65536\n# not a range\nbroken:line\n';
    expect(subordinateRanges(text, 'alice', 1000)).toEqual([
      { start: 100000, count: 65536 },
      { start: 300000, count: 10 },
    ]);
    expect(subordinateRanges(text, 'carol', 1001)).toEqual([]);
  });

  it("writes a map itself only when it is the user's own id alone", () => {
    expect(onlyOwnId([{ containerID: 0, hostID: 1000, size: 1 }], 1000)).toBe(true);
    expect(onlyOwnId([{ containerID: 0, hostID: 1000, size: 2 }], 1000)).toBe(false);
    expect(onlyOwnId([{ containerID: 0, hostID: 1001, size: 1 }], 1000)).toBe(false);
    expect(
      onlyOwnId(
        [
          { containerID: 0, hostID: 1000, size: 1 },
          { containerID: 1, hostID: 100000, size: 65536 },
        ],
        1000,
      ),
    ).toBe(false);
  });
});

describe("a user's cgroup", () => {
  it('is none on a v1 or hybrid host, and tcr bound its own cgroups read-only', () => {
    const fx = hybridFixture();
    try {
      const uc = userCgroup(undefined, 'c1', 1000, fx.seams);
      expect(uc.manager).toBeUndefined();
      expect(uc.note).toMatch(/^no cgroup: this host mounts cgroup v1/);
      const sources = ownCgroupSources(
        fx.layout,
        () => '5:memory:/user.slice\n4:cpu,cpuacct:/user.slice\n0::/user.slice/session-1.scope\n',
      );
      expect(sources.get('memory')).toBe(`${fx.root}/memory/user.slice`);
      expect(sources.get('cpu,cpuacct')).toBe(`${fx.root}/cpu,cpuacct/user.slice`);
    } finally {
      fx.cleanup();
    }
  });

  it('is the cgroup asked for on cgroup v2 where the parent is writable (delegated)', () => {
    const fx = v2Fixture();
    try {
      fx.put('user.slice/cgroup.procs', '');
      const uc = userCgroup('/user.slice/c1', 'c1', 1000, fx.seams);
      expect(uc.manager?.record.dirs).toEqual([`${fx.root}/user.slice/c1`]);
      expect(ownCgroupSources(fx.layout, () => '0::/user.slice/session-1.scope\n')).toEqual(
        new Map([['', `${fx.root}/user.slice/session-1.scope`]]),
      );
    } finally {
      fx.cleanup();
    }
  });

  it('without a cgroupsPath is the id beside its own cgroup, as runc', () => {
    const fx = v2Fixture();
    try {
      fx.put('deleg/cgroup.procs', '');
      const uc = userCgroup(undefined, 'c1', 1000, { ...fx.seams, selfCgroup: () => '0::/deleg/shell\n' });
      expect(uc.manager?.record.dirs).toEqual([`${fx.root}/deleg/c1`]);
    } finally {
      fx.cleanup();
    }
  });

  it('fails a limit without one, naming the fields, and lets device rules pass', () => {
    expect(() => refuseLimitsWithoutCgroup({ memory: { limit: 1 }, pids: { limit: 5 } }, 'no cgroup: why')).toThrow(
      /^linux\.resources\.memory, linux\.resources\.pids: a limit needs a cgroup, and this container has no cgroup: why/,
    );
    expect(() => refuseLimitsWithoutCgroup({ devices: [{ allow: false, access: 'rwm' }] }, 'no cgroup')).not.toThrow();
    expect(() => refuseLimitsWithoutCgroup(undefined, 'no cgroup')).not.toThrow();
  });
});

describe("the plan of a user's container", () => {
  const spec = () => {
    const s = defaultSpec({ rootless: true });
    s.process!.args = ['true'];
    return s;
  };
  const plan = (rootless?: { setgroupsDenied: boolean }) =>
    buildLaunchPlan(spec(), {
      bundle: '/b',
      rootfs: '/b/rootfs',
      containerId: 'c1',
      preserveFds: 0,
      lsmSteps: [],
      cgroupV2: false,
      cgroupSources: new Map(),
      rootless,
    });
  const dumpableOff = (s: PlanStep) => s.op === PlanOp.prctl && s.option === PR.SET_DUMPABLE && s.arg2 === 0;
  const startSync = (s: PlanStep) => s.op === PlanOp.sync && s.point === SyncPoint.start;
  const finalUser = (steps: PlanStep[]) => steps.findLast((s) => s.op === PlanOp.setuser)!;

  it("keeps the init dumpable, so the user's map writers may open its /proc files (as runc)", () => {
    const root = plan();
    expect(root.steps.findIndex(dumpableOff)).toBeLessThan(root.steps.findIndex(startSync));
    expect(plan({ setgroupsDenied: true }).steps.some(dumpableOff)).toBe(false);
  });

  it('calls no setgroups where the user namespace denies it', () => {
    const denied = finalUser(plan({ setgroupsDenied: true }).steps);
    expect(denied.op === PlanOp.setuser && denied.groups).toBeUndefined();
    expect(denied.label).toMatch(/no setgroups: denied in this user namespace/);
    const allowed = finalUser(plan({ setgroupsDenied: false }).steps);
    expect(allowed.op === PlanOp.setuser && allowed.groups).toEqual([]);
  });
});
