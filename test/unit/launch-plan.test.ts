// The order of the launch plan is the container's security: these tests pin
// the invariants the executor relies on, without running anything.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildExecPlan } from '../../src/linux/exec-plan.js';
import { buildLaunchPlan, type LaunchPlanOptions } from '../../src/linux/launch-plan.js';
import { startWaitsForExec } from '../../src/linux/start-wait.js';
import { MS } from '../../src/linux/mounts.js';
import { CLONE_NEW } from '../../src/linux/namespaces.js';
import { SyncPoint, encodePlan, formatPlan, type Plan } from '../../src/linux/plan.js';
import { PlanOp, StepFlag, type PlanStep, type StepOf } from '../../src/linux/plan-steps.js';
import { PR } from '../../src/linux/process.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Spec } from '../../src/spec/types.js';
import { validateSpec } from '../../src/spec/validate.js';

const bundle = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-plan-'));
const rootfs = path.join(bundle, 'rootfs');
fs.mkdirSync(rootfs);
fs.mkdirSync(path.join(bundle, 'data'));
fs.writeFileSync(path.join(bundle, 'file.txt'), 'x');
afterAll(() => fs.rmSync(bundle, { recursive: true, force: true }));

/** the container's cgroup in each v1 hierarchy of a hybrid host, as CgroupManager.mountSources() gives it */
const V1_SOURCES = new Map([
  ['cpu,cpuacct', '/sys/fs/cgroup/cpu,cpuacct/tcr/c1'],
  ['memory', '/sys/fs/cgroup/memory/tcr/c1'],
  ['systemd', '/sys/fs/cgroup/systemd/tcr/c1'],
  ['unified', '/sys/fs/cgroup/unified/tcr/c1'],
]);
const V2_SOURCES = new Map([['', '/sys/fs/cgroup/tcr/c1']]);
const SECCOMP = { filter: Buffer.alloc(16), flags: 0, description: 'test filter' };

function spec(edit: (s: Spec) => void = () => {}): Spec {
  const s = defaultSpec();
  s.process!.args = ['true'];
  edit(s);
  return s;
}

function plan(s: Spec, extra: Partial<LaunchPlanOptions> = {}): Plan {
  validateSpec(s);
  return buildLaunchPlan(s, {
    bundle,
    rootfs,
    containerId: 'c1',
    preserveFds: 0,
    lsmSteps: [],
    cgroupV2: false,
    cgroupSources: V1_SOURCES,
    ...extra,
  });
}

type Pred = (s: PlanStep) => boolean;
type Is<S extends PlanStep> = (s: PlanStep) => s is S;
type Mount = StepOf<PlanOp.mount>;
const first = (p: Plan, pred: Pred) => p.steps.findIndex(pred);
const last = (p: Plan, pred: Pred) => p.steps.findLastIndex(pred);
const all = (p: Plan, pred: Pred) => p.steps.flatMap((s, i) => (pred(s) ? [i] : []));
const stepsOf = <S extends PlanStep>(p: Plan, pred: Is<S>): S[] => p.steps.filter(pred);
const mountFlags = (s: Mount) => BigInt(s.mountFlags);

const isOp =
  <O extends PlanOp>(op: O): Is<StepOf<O>> =>
  (s): s is StepOf<O> =>
    s.op === op;
/** a step of `op` that passes `test` */
const isStep =
  <O extends PlanOp>(op: O, test: (s: StepOf<O>) => boolean): Is<StepOf<O>> =>
  (s): s is StepOf<O> =>
    s.op === op && test(s as StepOf<O>);
const isSync = (point: SyncPoint) => isStep(PlanOp.sync, (s) => s.point === point);
const isPrctl = (option: number, arg?: number) => isStep(PlanOp.prctl, (s) => s.option === option && (arg === undefined || s.arg2 === arg));
const isMountOn = (target: string, test: (s: Mount) => boolean = () => true) => isStep(PlanOp.mount, (s) => s.target === target && test(s));
const isUnshare = (flag: number) => isStep(PlanOp.unshare, (s) => BigInt(s.cloneFlags) === BigInt(flag));

/** Index of a step that must exist. */
function at(p: Plan, pred: Pred, what: string): number {
  const i = first(p, pred);
  if (i < 0) throw new Error(`no step for ${what} in plan:\n${formatPlan(p)}`);
  return i;
}

/** The step that must exist, as its op's type. */
function stepAt<S extends PlanStep>(p: Plan, pred: Is<S>, what: string): S {
  return p.steps[at(p, pred, what)] as S;
}

describe('buildLaunchPlan on the default spec', () => {
  const p = plan(spec(), { execFifo: path.join(bundle, 'exec.fifo') });
  const pivot = at(p, isOp(PlanOp.pivotRoot), 'pivot_root');
  const syncStart = at(p, isSync(SyncPoint.start), 'start sync');
  const syncReady = at(p, isSync(SyncPoint.ready), 'ready sync');

  it('encodes (every value fits the wire format)', () => {
    expect(encodePlan(p).length).toBeGreaterThan(40 + 88 * p.steps.length);
  });

  it('creates the spec namespaces with the clone and has no stage 1', () => {
    expect(p.cloneFlags).toBe(CLONE_NEW.pid | CLONE_NEW.network | CLONE_NEW.ipc | CLONE_NEW.uts | CLONE_NEW.mount);
    expect(p.stage1Steps).toBe(0);
    expect(p.keepFds).toBe(3);
    expect(first(p, isOp(PlanOp.setns))).toBe(-1);
  });

  it('sets the parent-death signal first', () => {
    expect(p.steps[0]).toMatchObject({ op: PlanOp.prctl, option: PR.SET_PDEATHSIG, arg2: 9, arg3: 0 });
  });

  it('makes itself non-dumpable before the start sync', () => {
    expect(at(p, isPrctl(PR.SET_DUMPABLE, 0), 'dumpable')).toBeLessThan(syncStart);
  });

  it('waits for the start sync before any mount', () => {
    expect(syncStart).toBeLessThan(at(p, isOp(PlanOp.mount), 'first mount'));
    expect(syncStart).toBeLessThan(at(p, isOp(PlanOp.mkdir), 'first mkdir'));
  });

  it('makes / rslave before it binds the rootfs', () => {
    const slave = at(
      p,
      isMountOn('/', (s) => s.source === undefined && mountFlags(s) === BigInt(MS.SLAVE | MS.REC)),
      '/ rslave',
    );
    const bind = at(
      p,
      isMountOn(rootfs, (s) => s.source === rootfs),
      'rootfs bind',
    );
    expect(mountFlags(p.steps[bind] as Mount)).toBe(BigInt(MS.BIND | MS.REC));
    expect(slave).toBeLessThan(bind);
    expect(bind).toBeLessThan(
      at(
        p,
        isStep(PlanOp.setRoot, (s) => s.path === rootfs),
        'set root',
      ),
    );
  });

  it('makes every spec mount before pivot_root, flagged targetInRoot', () => {
    for (const m of spec().mounts!) {
      const i = at(p, isMountOn(m.destination), `mount on ${m.destination}`);
      expect(i).toBeLessThan(pivot);
      expect((p.steps[i] as Mount).inRoot).toBe(true);
    }
    // all mounts inside the rootfs come after the root resolves there
    const setRoot = at(
      p,
      isStep(PlanOp.setRoot, (s) => s.path === rootfs),
      'set root',
    );
    for (const i of all(
      p,
      isStep(PlanOp.mount, (s) => s.inRoot === true),
    ))
      expect(i).toBeGreaterThan(setRoot);
  });

  it('mounts the spec mounts in the spec order', () => {
    const order = spec().mounts!.map((m) => at(p, isMountOn(m.destination), m.destination));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it("binds the container's own cgroup of each v1 hierarchy under a tmpfs (no cgroup namespace)", () => {
    const tmpfs = at(
      p,
      isMountOn('/sys/fs/cgroup', (s) => s.fstype === 'tmpfs'),
      'cgroup tmpfs',
    );
    for (const [name, source] of V1_SOURCES) {
      const target = `/sys/fs/cgroup/${name}`;
      const mounts = all(p, isMountOn(target));
      expect(mounts.length, target).toBeGreaterThanOrEqual(2);
      const [bind, remount] = stepsOf(p, isMountOn(target));
      expect(bind.source).toBe(source);
      expect(mountFlags(bind) & BigInt(MS.BIND)).toBeTruthy();
      expect(mountFlags(remount) & BigInt(MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC)).toBe(
        BigInt(MS.REMOUNT | MS.RDONLY | MS.NOSUID | MS.NODEV | MS.NOEXEC),
      );
      expect(mounts[0]).toBeGreaterThan(tmpfs);
      expect(mounts.at(-1)!).toBeLessThan(pivot);
    }
    // never a fresh cgroup mount, which would show the host's whole tree
    expect(
      first(
        p,
        isStep(PlanOp.mount, (s) => s.fstype === 'cgroup' || s.fstype === 'cgroup2'),
      ),
    ).toBe(-1);
    expect(
      at(
        p,
        isStep(PlanOp.remountRo, (s) => s.path === '/sys/fs/cgroup'),
        'cgroup ro',
      ),
    ).toBeLessThan(pivot);
  });

  it('mounts fresh v1 hierarchies inside a cgroup namespace', () => {
    const q = plan(spec((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    expect(stepAt(q, isMountOn('/sys/fs/cgroup/memory'), 'memory')).toMatchObject({ fstype: 'cgroup', data: 'memory' });
    expect(stepAt(q, isMountOn('/sys/fs/cgroup/systemd'), 'systemd').data).toBe('none,name=systemd');
    expect(stepAt(q, isMountOn('/sys/fs/cgroup/unified'), 'unified').fstype).toBe('cgroup2');
    // the namespace is made (after the start sync) before the hierarchies are mounted
    expect(at(q, isUnshare(CLONE_NEW.cgroup), 'unshare cgroup')).toBeLessThan(at(q, isMountOn('/sys/fs/cgroup/memory'), 'memory'));
  });

  it("on a v2 host binds the container's cgroup, or mounts cgroup2 in a cgroup namespace", () => {
    const v2 = plan(spec(), { cgroupV2: true, cgroupSources: V2_SOURCES });
    expect(stepAt(v2, isMountOn('/sys/fs/cgroup'), 'cgroup bind').source).toBe('/sys/fs/cgroup/tcr/c1');
    expect(
      first(
        v2,
        isMountOn('/sys/fs/cgroup', (s) => s.fstype === 'tmpfs'),
      ),
    ).toBe(-1);
    const ns = plan(
      spec((s) => s.linux!.namespaces!.push({ type: 'cgroup' })),
      { cgroupV2: true, cgroupSources: V2_SOURCES },
    );
    expect(stepAt(ns, isMountOn('/sys/fs/cgroup'), 'cgroup2').fstype).toBe('cgroup2');
  });

  it('masks and protects paths after pivot_root', () => {
    const s = spec();
    for (const m of s.linux!.maskedPaths!) {
      const i = at(
        p,
        isStep(PlanOp.mask, (x) => x.path === m),
        `mask ${m}`,
      );
      expect(i).toBeGreaterThan(pivot);
      expect(p.steps[i].flags! & StepFlag.ignoreEnoent).toBeTruthy();
    }
    for (const r of s.linux!.readonlyPaths!) {
      const bind = at(p, isMountOn(r), `bind ${r}`);
      const ro = at(
        p,
        isStep(PlanOp.remountRo, (x) => x.path === r),
        `ro ${r}`,
      );
      expect(bind).toBeGreaterThan(pivot);
      expect(ro).toBeGreaterThan(bind);
    }
  });

  it('remounts / read-only after pivot_root (root.readonly)', () => {
    expect(
      at(
        p,
        isStep(PlanOp.remountRo, (s) => s.path === '/'),
        'ro /',
      ),
    ).toBeGreaterThan(pivot);
  });

  it('waits on the exec fifo the runtime opened (slot 0) after the ready sync, its last', () => {
    // the init never opens the fifo: with a user namespace's credentials it may not search the state directory
    const wait = at(p, isOp(PlanOp.fifoWait), 'fifo wait');
    expect(wait).toBe(syncReady + 1);
    expect((p.steps[wait] as StepOf<PlanOp.fifoWait>).slot).toBe(0);
    expect(p.steps[wait].label).toContain(path.join(bundle, 'exec.fifo'));
    expect(p.steps[syncReady]).toMatchObject({ point: SyncPoint.ready, last: true }); // create returns: the socket closes
  });

  it('clears the parent-death signal just before the ready sync, never after it (create exits once answered)', () => {
    expect(at(p, isPrctl(PR.SET_PDEATHSIG, 0), 'clear pdeathsig')).toBe(syncReady - 1);
    expect(plan(spec()).steps.find(isSync(SyncPoint.ready))!.last).toBe(false); // run listens until the exec
  });

  it('has no fifo steps without an exec fifo (run)', () => {
    const r = plan(spec());
    expect(first(r, isOp(PlanOp.fifoWait))).toBe(-1);
  });

  it('sets hostname in the new uts namespace and brings up lo in the new network namespace', () => {
    expect(stepAt(p, isOp(PlanOp.sethostname), 'hostname').hostname).toBe('runc');
    expect(at(p, isOp(PlanOp.loopbackUp), 'lo')).toBeGreaterThan(syncStart);
  });

  it('joins a session keyring unless --no-new-keyring', () => {
    expect(stepAt(p, isOp(PlanOp.joinKeyring), 'keyring').name).toBe('_ses.c1');
    expect(first(plan(spec(), { noNewKeyring: true }), isOp(PlanOp.joinKeyring))).toBe(-1);
  });

  it('makes device nodes with mknod and the /dev symlinks (no user namespace)', () => {
    const nul = at(
      p,
      isStep(PlanOp.mknod, (s) => s.path === '/dev/null'),
      'mknod /dev/null',
    );
    expect(p.steps[nul]).toMatchObject({ major: 1, minor: 3 });
    expect(nul).toBeGreaterThan(at(p, isMountOn('/dev'), '/dev tmpfs'));
    expect(nul).toBeLessThan(pivot);
    expect(
      first(
        p,
        isStep(PlanOp.symlink, (s) => s.linkpath === '/dev/ptmx'),
      ),
    ).toBeGreaterThan(-1);
  });

  it('sets capabilities after setuser, then execs last', () => {
    const setuser = last(p, isOp(PlanOp.setuser));
    expect(p.steps[setuser]).toMatchObject({ uid: 0, gid: 0 });
    const bounding = at(p, isOp(PlanOp.capBounding), 'bounding');
    const keep = at(p, isPrctl(PR.SET_KEEPCAPS, 1), 'keepcaps');
    const capset = at(p, isOp(PlanOp.capset), 'capset');
    const ambient = at(p, isOp(PlanOp.capAmbient), 'ambient');
    expect(bounding).toBeLessThan(setuser);
    expect(keep).toBeLessThan(setuser);
    expect(capset).toBeGreaterThan(setuser);
    expect(ambient).toBeGreaterThan(capset);
    expect(p.steps.at(-1)!.op).toBe(PlanOp.exec);
    expect(stepAt(p, isOp(PlanOp.fds), 'fds').keep).toBe(3);
  });

  it('looks up the executable before the ready sync and execs with PATH candidates', () => {
    expect(at(p, isOp(PlanOp.findExec), 'find exec')).toBeLessThan(syncReady);
    const exec = p.steps.at(-1) as StepOf<PlanOp.exec>;
    expect(exec.candidates).toContain('/bin/true');
    expect(exec.argv).toEqual(['true']);
    expect(exec.env).toEqual(spec().process!.env);
  });

  it('sets rlimits before dropping privileges', () => {
    const rl = at(p, isOp(PlanOp.rlimit), 'rlimit');
    expect(p.steps[rl]).toMatchObject({ resource: 7, soft: 1024n, hard: 1024n });
    expect(rl).toBeLessThan(last(p, isOp(PlanOp.setuser)));
  });

  it('chdirs to the cwd after pivot_root', () => {
    expect(at(p, isOp(PlanOp.chdir), 'chdir')).toBeGreaterThan(pivot);
  });

  it('has no runtimeHooks sync and no hook steps without hooks', () => {
    expect(first(p, isSync(SyncPoint.runtimeHooks))).toBe(-1);
    expect(first(p, isOp(PlanOp.hook))).toBe(-1);
  });
});

describe('no_new_privs and seccomp', () => {
  it('sets no_new_privs then seccomp as the last steps before exec', () => {
    const p = plan(spec(), { seccomp: SECCOMP });
    const ops = p.steps.slice(-3).map((s) => s.op);
    expect(ops).toEqual([PlanOp.prctl, PlanOp.seccomp, PlanOp.exec]);
    expect(p.steps.at(-3)).toMatchObject({ option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0 });
    expect((p.steps.at(-2) as StepOf<PlanOp.seccomp>).filter).toBe(SECCOMP.filter);
    expect(at(p, isOp(PlanOp.seccomp), 'seccomp')).toBeGreaterThan(at(p, isOp(PlanOp.capset), 'capset'));
  });

  // what a profile written for runc allows after the filter: prctl, capset, set*id/setgroups, execve
  const RUNC_AFTER_FILTER = new Set([PlanOp.prctl, PlanOp.capBounding, PlanOp.capset, PlanOp.capAmbient, PlanOp.setuser, PlanOp.exec]);
  it.each([true, false])('after the filter only runs steps runc also runs after its own (noNewPrivileges %s)', (nnp) => {
    const p = plan(
      spec((s) => {
        s.process!.noNewPrivileges = nnp;
        s.process!.user.umask = 0o22;
      }),
      { seccomp: SECCOMP, preserveFds: 1 },
    );
    const sc = at(p, isOp(PlanOp.seccomp), 'seccomp');
    const after = p.steps.slice(sc + 1);
    expect(after.filter((s) => !RUNC_AFTER_FILTER.has(s.op)).map((s) => s.label)).toEqual([]);
    expect(after.every((s) => s.afterFilter)).toBe(true);
    expect(p.steps.slice(0, sc + 1).some((s) => s.afterFilter)).toBe(false);
    // fd hygiene, umask and the program's lookup come before it
    for (const op of [PlanOp.fds, PlanOp.findExec, PlanOp.umask]) expect(at(p, isOp(op), String(op))).toBeLessThan(sc);
  });

  it('loads seccomp before the capability drop when noNewPrivileges is false', () => {
    const p = plan(
      spec((s) => (s.process!.noNewPrivileges = false)),
      { seccomp: SECCOMP },
    );
    const sc = at(p, isOp(PlanOp.seccomp), 'seccomp');
    expect(sc).toBeLessThan(at(p, isOp(PlanOp.capBounding), 'bounding'));
    expect(sc).toBeLessThan(last(p, isOp(PlanOp.setuser)));
    expect(sc).toBeLessThan(at(p, isOp(PlanOp.capset), 'capset'));
    expect(first(p, isPrctl(PR.SET_NO_NEW_PRIVS))).toBe(-1);
  });

  it('has no no_new_privs step when noNewPrivileges is false and no seccomp step without a filter', () => {
    const p = plan(spec((s) => (s.process!.noNewPrivileges = false)));
    expect(first(p, isPrctl(PR.SET_NO_NEW_PRIVS))).toBe(-1);
    expect(first(p, isOp(PlanOp.seccomp))).toBe(-1);
    const q = plan(spec());
    expect(first(q, isOp(PlanOp.seccomp))).toBe(-1);
    expect(q.steps.at(-2)).toMatchObject({ op: PlanOp.prctl, option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0 });
  });

  it('keeps preserved fds', () => {
    const p = plan(spec(), { preserveFds: 2 });
    expect(p.keepFds).toBe(5);
    expect(p.steps.find(isOp(PlanOp.fds))).toMatchObject({ op: PlanOp.fds, keep: 5 });
  });
});

describe('namespaces', () => {
  it('joins namespaces with a path in stage 1, user first, and clones the rest', () => {
    const p = plan(
      spec((s) => {
        s.linux!.namespaces = [
          { type: 'pid' },
          { type: 'network', path: '/proc/1/ns/net' },
          { type: 'mount' },
          { type: 'user', path: '/proc/1/ns/user' },
          { type: 'uts' },
        ];
      }),
    );
    expect(p.stage1Steps).toBe(3);
    expect(p.steps[0]).toMatchObject({ op: PlanOp.prctl, option: PR.SET_DUMPABLE, arg2: 0, arg3: 0 });
    expect(p.steps[1]).toMatchObject({ op: PlanOp.setns, path: '/proc/1/ns/user', nstype: CLONE_NEW.user });
    expect(p.steps[2]).toMatchObject({ op: PlanOp.setns, path: '/proc/1/ns/net', nstype: CLONE_NEW.network });
    expect(p.cloneFlags).toBe(CLONE_NEW.pid | CLONE_NEW.mount | CLONE_NEW.uts);
    // the init itself still starts with the parent-death signal
    expect(p.steps[p.stage1Steps]).toMatchObject({ op: PlanOp.prctl, option: PR.SET_PDEATHSIG, arg2: 9, arg3: 0 });
    expect(
      formatPlan(p)
        .split('\n')
        .filter((l) => /^ *\d+ {2}/.test(l))[1],
    ).toContain('[stage1]');
    // a joined user namespace: become its root, no lo (network joined)
    expect(
      first(
        p,
        isStep(PlanOp.setuser, (s) => s.uid === 0 && s.groups === undefined),
      ),
    ).toBeGreaterThan(p.stage1Steps);
    expect(first(p, isOp(PlanOp.loopbackUp))).toBe(-1);
  });

  describe('a new user namespace', () => {
    const p = plan(
      spec((s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      }),
    );
    const syncStart = at(p, isSync(SyncPoint.start), 'start sync');

    it('is created by the clone', () => {
      expect(p.cloneFlags & CLONE_NEW.user).toBe(CLONE_NEW.user);
      expect(p.stage1Steps).toBe(0);
    });

    it('becomes root of it right after the start sync, then re-arms the parent-death signal', () => {
      expect(p.steps[syncStart + 1]).toMatchObject({ op: PlanOp.setuser, uid: 0, gid: 0 });
      expect(p.steps[syncStart + 2]).toMatchObject({ op: PlanOp.prctl, option: PR.SET_PDEATHSIG, arg2: 9, arg3: 0 });
    });

    it('bind-mounts device nodes from the host instead of mknod', () => {
      expect(first(p, isOp(PlanOp.mknod))).toBe(-1);
      for (const dev of ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']) {
        const file = at(
          p,
          isStep(PlanOp.mkfile, (s) => s.path === dev),
          `mkfile ${dev}`,
        );
        const bind = at(
          p,
          isMountOn(dev, (s) => s.source === dev),
          `bind ${dev}`,
        );
        expect(mountFlags(p.steps[bind] as Mount)).toBe(BigInt(MS.BIND));
        expect((p.steps[bind] as Mount).inRoot).toBe(true);
        expect(file).toBeLessThan(bind);
        expect(bind).toBeLessThan(at(p, isOp(PlanOp.pivotRoot), 'pivot'));
      }
    });
  });

  it('unshares a time namespace after the start sync, writes the offsets, then enters it', () => {
    const p = plan(
      spec((s) => {
        s.linux!.namespaces!.push({ type: 'time' });
        s.linux!.timeOffsets = { monotonic: { secs: 86400, nanosecs: 5 }, boottime: { secs: 3600 } };
      }),
    );
    expect(p.cloneFlags & CLONE_NEW.time).toBe(0);
    const syncStart = at(p, isSync(SyncPoint.start), 'start sync');
    const unshare = at(p, isUnshare(CLONE_NEW.time), 'unshare time');
    const write = at(
      p,
      isStep(PlanOp.writeFile, (s) => s.path === '/proc/self/timens_offsets'),
      'timens_offsets',
    );
    const enter = at(
      p,
      isStep(PlanOp.setns, (s) => s.path === '/proc/self/ns/time_for_children'),
      'enter time ns',
    );
    expect(syncStart).toBeLessThan(unshare);
    expect(unshare).toBeLessThan(write);
    expect(write).toBeLessThan(enter);
    expect((p.steps[write] as StepOf<PlanOp.writeFile>).content).toBe('monotonic 86400 5\nboottime 3600 0\n');
    expect((p.steps[enter] as StepOf<PlanOp.setns>).nstype).toBe(CLONE_NEW.time);
  });

  it('unshares a time namespace without offsets without writing them', () => {
    const p = plan(spec((s) => s.linux!.namespaces!.push({ type: 'time' })));
    expect(first(p, isUnshare(CLONE_NEW.time))).toBeGreaterThan(-1);
    expect(
      first(
        p,
        isStep(PlanOp.writeFile, (s) => s.path === '/proc/self/timens_offsets'),
      ),
    ).toBe(-1);
  });

  it('unshares the cgroup namespace after the start sync (once the init is in its cgroup)', () => {
    const p = plan(spec((s) => s.linux!.namespaces!.push({ type: 'cgroup' })));
    expect(p.cloneFlags & CLONE_NEW.cgroup).toBe(0);
    const unshare = at(p, isUnshare(CLONE_NEW.cgroup), 'unshare cgroup');
    expect(unshare).toBeGreaterThan(at(p, isSync(SyncPoint.start), 'start sync'));
    expect(unshare).toBeLessThan(at(p, isOp(PlanOp.mount), 'first mount'));
  });

  it('joins a cgroup namespace with a path in stage 1 instead', () => {
    const p = plan(spec((s) => s.linux!.namespaces!.push({ type: 'cgroup', path: '/proc/1/ns/cgroup' })));
    expect(first(p, isUnshare(CLONE_NEW.cgroup))).toBe(-1);
    expect(p.steps.slice(0, p.stage1Steps).some(isStep(PlanOp.setns, (s) => s.path === '/proc/1/ns/cgroup'))).toBe(true);
  });
});

describe('root', () => {
  it('--no-pivot moves the rootfs and chroots instead of pivot_root', () => {
    const p = plan(spec(), { noPivot: true });
    expect(first(p, isOp(PlanOp.pivotRoot))).toBe(-1);
    const chroot = at(p, isOp(PlanOp.chroot), 'chroot');
    expect((p.steps[chroot] as StepOf<PlanOp.chroot>).root).toBe(rootfs);
    expect(at(p, isOp(PlanOp.mask), 'mask')).toBeGreaterThan(chroot);
  });

  it('rootfsPropagation: / rslave at first by default, rprivate for private, the shared value itself for shared; applied again after pivot', () => {
    const p = plan(spec((s) => (s.linux!.rootfsPropagation = 'shared')));
    // shared: as runc, the requested propagation from the first step (volumes stay peers of the host's
    // mounts), then the mount holding the rootfs made private (pivot_root, and nothing of the rootfs' own leaks)
    const onRoot = isMountOn('/', (s) => s.source === undefined);
    const roots = all(p, onRoot);
    expect(stepsOf(p, onRoot).map(mountFlags)).toEqual([BigInt(MS.SHARED), BigInt(MS.PRIVATE), BigInt(MS.SHARED)]);
    expect(roots[1]).toBeLessThan(at(p, isMountOn(rootfs), 'self-bind'));
    expect(roots[2]).toBeGreaterThan(at(p, isOp(PlanOp.pivotRoot), 'pivot'));
    const held = plan(
      spec((s) => (s.linux!.rootfsPropagation = 'rshared')),
      { rootfsMount: '/var/lib/x' },
    );
    expect(held.steps.find(isMountOn('/var/lib/x'))).toMatchObject({ mountFlags: MS.PRIVATE });
    const d = plan(spec());
    expect(mountFlags(stepAt(d, isMountOn('/'), '/'))).toBe(BigInt(MS.SLAVE | MS.REC));
    const q = plan(spec((s) => (s.linux!.rootfsPropagation = 'rprivate')));
    expect(mountFlags(stepAt(q, isMountOn('/'), '/'))).toBe(BigInt(MS.PRIVATE | MS.REC));
  });

  it('writes sysctls under /proc/sys after pivot_root', () => {
    const p = plan(spec((s) => (s.linux!.sysctl = { 'net.ipv4.ip_forward': '1' })));
    const w = at(
      p,
      isStep(PlanOp.writeFile, (s) => s.path === '/proc/sys/net/ipv4/ip_forward'),
      'sysctl',
    );
    expect((p.steps[w] as StepOf<PlanOp.writeFile>).content).toBe('1');
    expect(w).toBeGreaterThan(at(p, isOp(PlanOp.pivotRoot), 'pivot'));
  });
});

describe('hooks', () => {
  const hook = (name: string) => ({ path: `/usr/bin/${name}`, args: [name, 'arg'] });

  it('asks the runtime to run prestart and createRuntime hooks, after the mounts and before pivot', () => {
    for (const kind of ['prestart', 'createRuntime'] as const) {
      const p = plan(spec((s) => (s.hooks = { [kind]: [hook(kind)] })));
      const sync = at(p, isSync(SyncPoint.runtimeHooks), 'runtime hooks sync');
      expect(sync).toBeGreaterThan(
        last(
          p,
          isStep(PlanOp.mount, (s) => s.inRoot === true && s.target.startsWith('/dev')),
        ),
      );
      expect(sync).toBeLessThan(at(p, isOp(PlanOp.pivotRoot), 'pivot'));
      expect(first(p, isOp(PlanOp.hook))).toBe(-1); // the runtime runs these, not the init
    }
  });

  it('has no runtimeHooks sync for poststart, poststop, createContainer or startContainer hooks alone', () => {
    const p = plan(
      spec((s) => (s.hooks = { poststart: [hook('a')], poststop: [hook('b')], createContainer: [hook('c')], startContainer: [hook('d')] })),
    );
    expect(first(p, isSync(SyncPoint.runtimeHooks))).toBe(-1);
    expect(plan(spec((s) => (s.hooks = { prestart: [] }))).steps.some(isSync(SyncPoint.runtimeHooks))).toBe(false);
  });

  it('the init waits for start to exit before its program, unless poststart hooks must follow the exec', () => {
    const wait = (s: Spec) =>
      plan(s, { execFifo: path.join(bundle, 'exec.fifo') }).steps.find(isOp(PlanOp.fifoWait)) as StepOf<PlanOp.fifoWait>;
    // a shim watches a v1 container's OOM only once start has returned: the program must not run before
    expect(wait(spec()).untilStartExits).toBe(true);
    expect(wait(spec((s) => (s.hooks = { poststop: [hook('b')], startContainer: [hook('d')] }))).untilStartExits).toBe(true);
    expect(wait(spec((s) => (s.hooks = { poststart: [hook('a')] }))).untilStartExits).toBe(false);
    expect(startWaitsForExec({ poststart: [hook('a')] })).toBe(true);
    expect(startWaitsForExec({ poststart: [] })).toBe(false);
  });

  it('runs createContainer hooks in the init before pivot_root, startContainer after the fifo wait', () => {
    const p = plan(
      spec(
        (s) =>
          (s.hooks = {
            createContainer: [hook('cc1'), { path: '/usr/bin/cc2', timeout: 5, env: ['A=1'] }],
            startContainer: [hook('sc')],
          }),
      ),
      { execFifo: path.join(bundle, 'exec.fifo') },
    );
    const hooks = all(p, isOp(PlanOp.hook));
    expect(hooks).toHaveLength(3);
    const [cc1, cc2, sc] = hooks;
    const [cc1Step, cc2Step, scStep] = stepsOf(p, isOp(PlanOp.hook));
    const pivot = at(p, isOp(PlanOp.pivotRoot), 'pivot');
    expect(cc1).toBeLessThan(cc2);
    expect(cc2).toBeLessThan(pivot);
    expect(cc1Step).toMatchObject({ path: '/usr/bin/cc1', argv: ['cc1', 'arg'], env: [] });
    expect(cc2Step).toMatchObject({ path: '/usr/bin/cc2', argv: ['/usr/bin/cc2'], env: ['A=1'], timeoutMs: 5000 });
    expect(sc).toBeGreaterThan(at(p, isOp(PlanOp.fifoWait), 'fifo wait'));
    expect(sc).toBeLessThan(last(p, isOp(PlanOp.setuser)));
    expect(scStep.path).toBe('/usr/bin/sc');
  });

  it('runs startContainer hooks after the ready sync for run (no fifo)', () => {
    const p = plan(spec((s) => (s.hooks = { startContainer: [hook('sc')] })));
    expect(at(p, isOp(PlanOp.hook), 'hook')).toBeGreaterThan(at(p, isSync(SyncPoint.ready), 'ready'));
  });
});

describe('bind mounts', () => {
  const p = plan(
    spec((s) => {
      s.mounts!.push(
        { destination: '/data', type: 'bind', source: 'data', options: ['rbind', 'ro', 'nosuid', 'rprivate'] },
        { destination: '/etc/file.txt', source: path.join(bundle, 'file.txt'), options: ['bind'] },
        { destination: '//plain/../dir/', source: 'data', options: ['bind', 'x-systemd.automount'] },
      );
    }),
  );

  it('makes a directory target, binds recursively, remounts with the flags, then sets propagation', () => {
    const mkdir = at(
      p,
      isStep(PlanOp.mkdir, (s) => s.path === '/data'),
      'mkdir /data',
    );
    const mounts = all(p, isMountOn('/data'));
    expect(mounts).toHaveLength(3);
    const [bind, remount, prop] = stepsOf(p, isMountOn('/data'));
    expect(mkdir).toBeLessThan(mounts[0]);
    expect(bind.source).toBe(path.join(bundle, 'data'));
    expect(mountFlags(bind)).toBe(BigInt(MS.BIND | MS.REC));
    expect(mountFlags(remount)).toBe(BigInt(MS.BIND | MS.REMOUNT | MS.RDONLY | MS.NOSUID));
    expect(remount.retryLocked).toBe(true);
    expect(mountFlags(prop)).toBe(BigInt(MS.PRIVATE | MS.REC));
    for (const m of [bind, remount, prop]) expect(m.inRoot).toBe(true);
    expect(mounts[2]).toBeLessThan(at(p, isOp(PlanOp.pivotRoot), 'pivot'));
  });

  it('makes a file target for a file source, a plain bind without remount', () => {
    const mkfile = at(
      p,
      isStep(PlanOp.mkfile, (s) => s.path === '/etc/file.txt'),
      'mkfile',
    );
    const mounts = all(p, isMountOn('/etc/file.txt'));
    expect(mounts).toHaveLength(1);
    expect(mkfile).toBeLessThan(mounts[0]);
    expect(mountFlags(stepAt(p, isMountOn('/etc/file.txt'), 'bind'))).toBe(BigInt(MS.BIND));
    expect(
      first(
        p,
        isStep(PlanOp.mkdir, (s) => s.path === '/etc/file.txt'),
      ),
    ).toBe(-1);
  });

  it('cleans the destination and drops x- options', () => {
    const mounts = all(p, isMountOn('/dir'));
    expect(mounts).toHaveLength(1);
    expect(stepAt(p, isMountOn('/dir'), '/dir').data).toBeUndefined();
  });

  it('names the mount when a bind source does not exist', () => {
    expect(() => plan(spec((s) => s.mounts!.push({ destination: '/x', type: 'bind', source: 'missing', options: ['bind'] })))).toThrow(
      /mounts\[7\]\.source/,
    );
  });

  it('makes no device nodes when /dev is bound from the host', () => {
    const q = plan(
      spec((s) => {
        s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
        s.mounts.push({ destination: '/dev', source: '/dev', options: ['rbind'] });
      }),
    );
    expect(first(q, isOp(PlanOp.mknod))).toBe(-1);
    expect(first(q, isOp(PlanOp.symlink))).toBe(-1);
  });
});

describe('without a mount namespace', () => {
  it('chroots and makes no mounts', () => {
    const p = plan(
      spec((s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
        s.mounts = [];
        s.linux!.maskedPaths = [];
        s.linux!.readonlyPaths = [];
        s.root!.readonly = false;
      }),
    );
    expect(first(p, isOp(PlanOp.mount))).toBe(-1);
    expect(first(p, isOp(PlanOp.pivotRoot))).toBe(-1);
    expect(stepAt(p, isOp(PlanOp.chroot), 'chroot')).toMatchObject({ root: rootfs, moveMount: false }); // no mount is moved in the host's namespace
  });

  it("makes the spec's mounts under the rootfs, in the host's namespace, but never touches the host's /", () => {
    const p = plan(
      spec((s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
        s.root!.readonly = false;
      }),
    );
    const mounts = stepsOf(p, isOp(PlanOp.mount));
    expect(mounts.length).toBeGreaterThan(3);
    // no propagation change of / and no self-bind of the rootfs: every mount targets a path inside the root
    expect(mounts.every((m) => m.target !== '/' && m.target !== rootfs && m.inRoot)).toBe(true);
    expect(p.steps.some(isStep(PlanOp.remountRo, (x) => x.path === '/'))).toBe(false);
    expect(at(p, isOp(PlanOp.mask), 'masked paths')).toBeGreaterThan(at(p, isOp(PlanOp.chroot), 'chroot'));
  });

  it('--no-pivot in a mount namespace still moves the mount', () => {
    expect(plan(spec(), { noPivot: true }).steps.find(isOp(PlanOp.chroot))).toMatchObject({ moveMount: true });
  });

  it("exec chroots into the init's root, which setns did not give", () => {
    const s = spec((x) => (x.linux!.namespaces = x.linux!.namespaces!.filter((n) => n.type !== 'mount')));
    const e = buildExecPlan(s, { ...s.process!, args: ['sh'] }, 4242, { preserveFds: 0, lsmSteps: [] });
    expect(e.steps.find(isOp(PlanOp.chroot))).toMatchObject({ root: '/proc/4242/root', moveMount: false });
    expect(
      buildExecPlan(spec(), { ...s.process!, args: ['sh'] }, 4242, { preserveFds: 0, lsmSteps: [] }).steps.find(isOp(PlanOp.chroot)),
    ).toBeUndefined();
  });
});

describe('the plan of exec', () => {
  const s = spec((x) => x.linux!.namespaces!.push({ type: 'user' }));
  const p = buildExecPlan(s, { ...s.process!, args: ['sh'] }, 4242, { seccomp: SECCOMP, preserveFds: 0, lsmSteps: [] });

  it('clears the parent-death signal just before the ready sync, as the init does', () => {
    const ready = at(p, isSync(SyncPoint.ready), 'ready sync');
    expect(p.steps[ready - 1]).toMatchObject({ op: PlanOp.prctl, option: PR.SET_PDEATHSIG, arg2: 0, arg3: 0 });
    expect(p.steps.slice(ready + 1).some(isPrctl(PR.SET_PDEATHSIG))).toBe(false);
  });

  it('runs nothing after the filter that a profile for runc would deny', () => {
    const sc = at(p, isOp(PlanOp.seccomp), 'seccomp');
    expect(at(p, isOp(PlanOp.fds), 'fds')).toBeLessThan(sc);
    expect(p.steps.slice(sc + 1).every((x) => x.afterFilter)).toBe(true);
  });
});

describe('what can fail for reasons of the host comes before "created"', () => {
  it('rlimits, oom_score_adj, umask and fd hygiene precede the ready sync; capabilities, user and exec follow the fifo', () => {
    const p = plan(
      spec((s) => {
        s.process!.oomScoreAdj = 100;
        s.process!.user.umask = 0o22;
      }),
      { execFifo: path.join(bundle, 'exec.fifo') },
    );
    const ready = at(p, isSync(SyncPoint.ready), 'ready');
    for (const op of [PlanOp.rlimit, PlanOp.writeFile, PlanOp.umask, PlanOp.fds]) expect(last(p, isOp(op)), String(op)).toBeLessThan(ready);
    const wait = at(p, isOp(PlanOp.fifoWait), 'fifo');
    for (const op of [PlanOp.capBounding, PlanOp.capset, PlanOp.exec]) expect(at(p, isOp(op), String(op))).toBeGreaterThan(wait);
  });
});
