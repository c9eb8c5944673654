// The decisions of a runtime that itself runs in a user namespace other than
// the host's (rootless podman's): telling it from the initial namespace by
// its uid_map, the state root it then takes, and device nodes bound instead
// of made. test/e2e/rootless-podman.test.ts runs it under podman.
import { describe, expect, it } from 'vitest';
import { defaultStateRoot } from '../../src/container/state-root.js';
import { buildLaunchPlan } from '../../src/linux/launch-plan.js';
import { PlanOp } from '../../src/linux/plan-steps.js';
import { hostIdIn, mapIsNotInitial } from '../../src/linux/userns.js';
import { defaultSpec } from '../../src/spec/defaults.js';

describe('a runtime in a user namespace', () => {
  it("tells the initial namespace by its map of all 2^32 ids, as runc's RunningInUserNS", () => {
    expect(mapIsNotInitial('         0          0 4294967295\n')).toBe(false);
    expect(mapIsNotInitial('         0       1001          1\n         1    3000000      65536\n')).toBe(true);
    expect(mapIsNotInitial('0 0 4294967294\n')).toBe(true);
    expect(mapIsNotInitial('0 1000 1\n')).toBe(true);
    // maps not written yet: a namespace of its own all the same
    expect(mapIsNotInitial('')).toBe(true);
  });

  it('finds the host id an id of the namespace stands for', () => {
    const map = '         0       1001          1\n         1    3000000      65536\n';
    expect(hostIdIn(map, 0)).toBe(1001);
    expect(hostIdIn(map, 1000)).toBe(3000999);
    expect(hostIdIn(map, 65537)).toBeUndefined();
  });

  it("keeps its state in $XDG_RUNTIME_DIR/tcr as root of a user's namespace, as runc (unless $USER is root)", () => {
    const inNs = () => true;
    const onHost = () => false;
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1001' }, 0, inNs)).toBe('/run/user/1001/tcr');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1001', USER: 'alice' }, 0, inNs)).toBe('/run/user/1001/tcr');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/1001', USER: 'root' }, 0, inNs)).toBe('/run/tcr');
    expect(defaultStateRoot({}, 0, inNs)).toBe('/run/tcr');
    expect(defaultStateRoot({ XDG_RUNTIME_DIR: '/run/user/0' }, 0, onHost)).toBe('/run/tcr');
  });

  it('binds the host device nodes instead of mknod, where a spec without a user namespace of its own is run there', () => {
    const noCgroup = { lsmSteps: [], cgroupV2: false, cgroupSources: new Map<string, string>() };
    const spec = defaultSpec();
    spec.process!.args = ['true'];
    const plan = (inUserNamespace: boolean) =>
      buildLaunchPlan(spec, { bundle: '/b', rootfs: '/b/rootfs', containerId: 'c', preserveFds: 0, ...noCgroup, inUserNamespace }).steps;
    const mknods = (steps: ReturnType<typeof plan>) => steps.filter((s) => s.op === PlanOp.mknod).length;
    const nullBind = (steps: ReturnType<typeof plan>) =>
      steps.some((s) => s.op === PlanOp.mount && s.source === '/dev/null' && s.target === '/dev/null');
    expect(mknods(plan(false))).toBe(6);
    expect(nullBind(plan(false))).toBe(false);
    expect(mknods(plan(true))).toBe(0);
    expect(nullBind(plan(true))).toBe(true);
    // sysfs there needs a network namespace the user namespace owns: a failure says so, naming the mount
    const sysfs = (steps: ReturnType<typeof plan>) => steps.find((s) => s.op === PlanOp.mount && s.fstype === 'sysfs')!;
    expect(sysfs(plan(true)).failure).toMatch(/^mounts\[\d+\]: in a user namespace sysfs mounts only with a network namespace/);
    expect(sysfs(plan(false)).failure).toBeUndefined();
  });
});
