// Runtime.launch against a scripted executor and a fixture cgroup tree: the
// record is written before anything it names is made, the init joins its
// cgroups by itself, and every failure leaves no state, cgroup or pid file
// behind, with an error that names what failed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ContainerRecord } from '../../src/container/state-store.js';
import type { WithSuppressed } from '../../src/container/undo.js';
import { StepError } from '../../src/errors.js';
import { Runtime } from '../../src/container/runtime.js';
import { PlanOp } from '../../src/linux/plan-steps.js';
import { CLONE_STEP, SyncPoint, type Plan } from '../../src/linux/plan.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Spec } from '../../src/spec/types.js';
import { hybridFixture, leaveCgroups, type CgroupFixture } from './cgroup-fixture.js';
import { FAKE_PID, ScriptedExecutor, type Scripted, type ScriptOptions } from './scripted-executor.js';

const ID = 'c1';
const LEAVES = ['blkio', 'cpu,cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids', 'unified'].map((h) => `${h}/tcr/${ID}`);
const EPERM = 1;

let fx: CgroupFixture;
let tmp: string;
let bundle: string;
let pidFile: string;

function writeBundle(edit: (s: Spec) => void = () => {}): void {
  const spec = defaultSpec();
  spec.process!.terminal = false;
  spec.process!.args = ['/bin/true'];
  spec.linux!.resources = { ...spec.linux!.resources, memory: { limit: 64 << 20 } };
  edit(spec);
  fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
}

beforeEach(() => {
  fx = hybridFixture();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-launch-'));
  bundle = path.join(tmp, 'bundle');
  fs.mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  pidFile = path.join(tmp, 'init.pid');
  writeBundle();
});
afterEach(() => {
  vi.restoreAllMocks();
  fx.cleanup();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function runtimeWith(script: Scripted[], opts: ScriptOptions = {}) {
  const executor = new ScriptedExecutor(script, { onReap: (pid) => leaveCgroups(fx.root, pid), ...opts });
  const runtime = new Runtime({ root: path.join(tmp, 'state'), cgroupSeams: fx.seams, executor });
  return { executor, runtime };
}

const existingLeaves = () => LEAVES.filter((l) => fs.existsSync(path.join(fx.root, l)));
const procMount = (plan: Plan) => plan.steps.findIndex((s) => s.op === PlanOp.mount && 'target' in s && s.target === '/proc');
const execStep = (plan: Plan) => plan.steps.findIndex((s) => s.op === PlanOp.exec);

describe('Runtime.launch, in order', () => {
  it('records the container before it makes anything; the init joins its cgroups by itself, the runtime writes no cgroup.procs', async () => {
    const seen: Record<string, unknown> = {};
    const { executor, runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.ready }, { eof: true }], {
      watch: (event) => {
        if (event === 'spawn') {
          seen.spawnRecord = runtime.store.read(ID);
          seen.spawnLeaves = existingLeaves();
          seen.fifo = fs.statSync(runtime.store.fifo(ID)).isFIFO();
        }
        if (event === 'sync ready') seen.procsAtReady = LEAVES.map((l) => fx.read(`${l}/cgroup.procs`));
      },
    });
    const writes: { phase: string; pid: number; leaves: string[]; procs?: string }[] = [];
    const procsWrites: string[] = [];
    const writeFile = fs.writeFileSync.bind(fs);
    vi.spyOn(fs, 'writeFileSync').mockImplementation((f, ...rest) => {
      if (String(f).endsWith('/cgroup.procs') && !new Error().stack!.includes('scripted-executor')) procsWrites.push(String(f));
      writeFile(f, ...rest);
    });
    const write = runtime.store.write.bind(runtime.store);
    vi.spyOn(runtime.store, 'write').mockImplementation((rec: ContainerRecord) => {
      writes.push({ phase: rec.phase, pid: rec.pid, leaves: existingLeaves(), procs: fx.read(`memory/tcr/${ID}/cgroup.procs`) });
      write(rec);
    });

    await runtime.create(ID, { bundle, pidFile });

    expect(writes).toEqual([
      { phase: 'creating', pid: 0, leaves: [], procs: undefined }, // the intent, before any cgroup exists
      // the pid, at the init's start sync: it has joined its v1 cgroups by itself by then (selfJoinSteps)
      { phase: 'creating', pid: FAKE_PID, leaves: LEAVES, procs: String(FAKE_PID) },
      { phase: 'created', pid: FAKE_PID, leaves: LEAVES, procs: String(FAKE_PID) },
    ]);
    const rec = seen.spawnRecord as ContainerRecord;
    expect(rec.cgroup).toMatchObject({ kind: 'v1', path: `/tcr/${ID}` });
    expect(rec.cgroup!.dirs.map((d) => path.relative(fx.root, d)).sort()).toEqual(LEAVES);
    expect(seen.spawnLeaves).toEqual(LEAVES);
    expect(fx.read(`memory/tcr/${ID}/memory.limit_in_bytes`)).toBe(String(64 << 20)); // set before the spawn
    expect(seen.fifo).toBe(true);
    expect(executor.spawned).toMatchObject({ cgroupDir: path.join(fx.root, `unified/tcr/${ID}`), slotPath: runtime.store.fifo(ID) });
    expect(seen.procsAtReady).toEqual(LEAVES.map(() => String(FAKE_PID)));
    // each v1 hierarchy joined by the init itself, before its start sync; cgroup2 by the clone: the runtime writes no cgroup.procs
    const plan = executor.spawned!.plan;
    const start = plan.steps.findIndex((st) => st.op === PlanOp.sync);
    const joins = plan.steps.slice(0, start).flatMap((st) => (st.op === PlanOp.writeFile ? [path.relative(fx.root, st.path)] : []));
    expect(joins.sort()).toEqual(LEAVES.filter((l) => !l.startsWith('unified')).map((l) => `${l}/tasks`));
    expect(procsWrites).toEqual([]);
    expect(executor.log).toEqual(['spawn', 'started', 'sync start', 'continue', 'sync ready', 'continue', 'eof', 'close sock']);
    // the state goes to the init only for its container-side hooks: this plan has none
    expect(executor.answers.map((a) => a[1])).toEqual(['', '']);
    expect(fs.readFileSync(pidFile, 'utf8')).toBe(String(FAKE_PID));
  });

  it('runs prestart then createRuntime at the runtimeHooks sync, with the state on stdin', async () => {
    const out = path.join(tmp, 'hooks.log');
    const hook = (name: string) => ({ path: '/bin/sh', args: ['sh', '-c', `echo ${name} $(cat) >> ${out}`] });
    writeBundle((s) => (s.hooks = { prestart: [hook('prestart')], createRuntime: [hook('createRuntime')] }));
    const { runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.runtimeHooks }, { sync: SyncPoint.ready }]);
    await runtime.create(ID, { bundle });
    const lines = fs.readFileSync(out, 'utf8').trim().split('\n');
    expect(lines.map((l) => l.split(' ')[0])).toEqual(['prestart', 'createRuntime']);
    expect(JSON.parse(lines[0].slice('prestart '.length))).toMatchObject({ id: ID, pid: FAKE_PID, status: 'creating' });
  });
});

interface FailureCase {
  name: string;
  script: Scripted[];
  error: string | RegExp;
  /** what the runtime did to the executor, from spawn on */
  log: string[];
  exec?: ScriptOptions;
  prepare?: (runtime: Runtime) => void;
  pidFile?: string;
}

const failStateWrite = (n: number) => (runtime: Runtime) => {
  let calls = 0;
  const write = runtime.store.write.bind(runtime.store);
  vi.spyOn(runtime.store, 'write').mockImplementation((rec) => {
    if (++calls === n) throw new Error(`state write ${n}: ENOSPC`);
    write(rec);
  });
};

const reaped = ['kill init SIGKILL', 'waitpid init', 'close sock'];

const failures: FailureCase[] = [
  { name: 'the first record cannot be written', script: [], prepare: failStateWrite(1), error: 'state write 1: ENOSPC', log: [] },
  {
    name: 'the executor cannot be spawned',
    script: [],
    exec: { spawnError: new Error('spawn: EAGAIN') },
    error: 'spawn: EAGAIN',
    log: ['spawn'],
  },
  {
    name: 'the init dies before its first sync',
    script: [{ eof: true }],
    exec: { exit: { pid: FAKE_PID, code: 1, signal: null } },
    error: 'container init exited before it was ready (exit status 1)',
    log: ['spawn', 'started', 'eof', ...reaped],
  },
  {
    name: 'the init dies between start and ready',
    script: [{ sync: SyncPoint.start }, { eof: true }],
    error: 'container init exited before it was ready (exit status 137)',
    log: ['spawn', 'started', 'sync start', 'continue', 'eof', ...reaped],
  },
  {
    name: 'a step fails',
    script: [{ sync: SyncPoint.start }, { step: 3 }, { fail: procMount, errno: EPERM }],
    error: /^step \d+ mount proc on \/proc\b.*: EPERM \(operation not permitted\)$/,
    log: ['spawn', 'started', 'sync start', 'continue', 'step 3', 'fail', ...reaped],
  },
  {
    name: 'the pid cannot be recorded at the start sync',
    script: [{ sync: SyncPoint.start }],
    prepare: failStateWrite(2),
    error: 'state write 2: ENOSPC',
    log: ['spawn', 'started', 'sync start', 'abort', ...reaped],
  },
  {
    name: 'the init cannot join its cgroup',
    script: [{ sync: SyncPoint.start }],
    exec: { watch: (e) => e === 'spawn' && fs.rmSync(path.join(fx.root, `memory/tcr/${ID}`), { recursive: true }) },
    error: /^step \d+ join the cgroup \S+\/memory\/tcr\/c1 \(0 into its tasks: .*\): ENOENT \(no such file or directory\)$/,
    log: ['spawn', 'started', 'fail', ...reaped],
  },
  {
    name: "stage 1's clone of the init fails (no plan step: named as the clone)",
    script: [{ fail: () => CLONE_STEP, errno: EPERM }],
    error: /^clone of the init with CLONE_NEW\S+: EPERM \(operation not permitted\)$/,
    log: ['spawn', 'started', 'fail', ...reaped],
  },
  {
    name: 'the clone of the init finds a namespace limit reached',
    script: [{ fail: () => CLONE_STEP, errno: 28 }],
    error: /^clone of the init with .*: ENOSPC \(.*\): a namespace limit is reached \(\/proc\/sys\/user\/max_\*_namespaces\)$/,
    log: ['spawn', 'started', 'fail', ...reaped],
  },
  {
    name: 'the created record cannot be written',
    script: [{ sync: SyncPoint.start }, { sync: SyncPoint.ready }],
    prepare: failStateWrite(3),
    error: 'state write 3: ENOSPC',
    log: ['spawn', 'started', 'sync start', 'continue', 'sync ready', 'abort', ...reaped],
  },
  {
    name: 'the pid file cannot be written',
    script: [{ sync: SyncPoint.start }, { sync: SyncPoint.ready }],
    pidFile: '/nonexistent-dir/init.pid',
    error: /ENOENT.*\/nonexistent-dir\/init\.pid/,
    log: ['spawn', 'started', 'sync start', 'continue', 'sync ready', 'abort', ...reaped],
  },
];

describe('Runtime.launch, failing', () => {
  const expectNothingLeft = (runtime: Runtime) => {
    expect(fs.existsSync(runtime.store.dir(ID))).toBe(false);
    expect(runtime.store.ids()).toEqual([]);
    expect(existingLeaves()).toEqual([]);
    expect(fs.existsSync(pidFile)).toBe(false);
  };

  for (const c of failures)
    it(`leaves nothing when ${c.name}`, async () => {
      const { executor, runtime } = runtimeWith(c.script, c.exec);
      c.prepare?.(runtime);
      await expect(runtime.create(ID, { bundle, pidFile: c.pidFile ?? pidFile })).rejects.toThrow(c.error);
      expect(executor.log).toEqual(c.log);
      expectNothingLeft(runtime);
    });

  it('leaves nothing when the limits cannot be set, naming the field', async () => {
    writeBundle((s) => (s.linux!.resources = { network: { classID: 1 } }));
    const { executor, runtime } = runtimeWith([]);
    await expect(runtime.create(ID, { bundle, pidFile })).rejects.toThrow(
      'cgroup: linux.resources.network.classID needs the net_cls controller, which this host does not mount',
    );
    expect(executor.log).toEqual([]);
    expectNothingLeft(runtime);
  });

  it('leaves nothing when a prestart hook fails, naming the hook', async () => {
    // it never reads its stdin: the state written to it is no part of its failure (test/unit/hooks.test.ts)
    writeBundle((s) => (s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', 'echo no >&2; exit 3'] }] }));
    const { executor, runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.runtimeHooks }]);
    await expect(runtime.create(ID, { bundle, pidFile })).rejects.toThrow('prestart hook 0 (/bin/sh): exit status 3: no');
    expect(executor.log).toEqual(['spawn', 'started', 'sync start', 'continue', 'sync runtimeHooks', 'abort', ...reaped]);
    expectNothingLeft(runtime);
  });

  it('run: removes the state and cgroups when the exec fails after ready', async () => {
    const { executor, runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.ready }, { fail: execStep, errno: 2 }]);
    await expect(runtime.run(ID, { bundle, detach: true })).rejects.toThrow(/^step \d+ execve "\/bin\/true": ENOENT/);
    expect(executor.log).toEqual(['spawn', 'started', 'sync start', 'continue', 'sync ready', 'continue', 'fail', ...reaped]);
    expectNothingLeft(runtime);
  });

  // The pid file is written at the ready sync; an exec that fails after it would
  // otherwise leave it naming the dead init (runc leaves one then: tcr does not).
  it('run: removes the pid file it wrote when the exec fails after ready', async () => {
    let atFail: string | undefined;
    const { runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.ready }, { fail: execStep, errno: 2 }], {
      watch: (e) => e === 'fail' && (atFail = fs.readFileSync(pidFile, 'utf8')),
    });
    await expect(runtime.run(ID, { bundle, detach: true, pidFile })).rejects.toThrow(/^step \d+ execve "\/bin\/true": ENOENT/);
    expect(atFail).toBe(String(FAKE_PID)); // it was there, naming the init, when the exec failed
    expectNothingLeft(runtime);
  });

  it("run: leaves a pid file that no longer names its init (another writer's) where it is", async () => {
    const { runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.ready }, { fail: execStep, errno: 2 }], {
      watch: (e) => e === 'fail' && fs.writeFileSync(pidFile, '12345'),
    });
    await expect(runtime.run(ID, { bundle, detach: true, pidFile })).rejects.toThrow(/execve/);
    expect(fs.readFileSync(pidFile, 'utf8')).toBe('12345');
  });

  it("keeps the launch's error when its cgroup cannot be removed, and still undoes the rest", async () => {
    const owned = path.join(tmp, 'owned');
    fs.mkdirSync(owned);
    const { runtime } = runtimeWith([{ sync: SyncPoint.start }, { sync: SyncPoint.ready }, { fail: execStep, errno: 2 }]);
    const rmdir = fx.seams.rmdir!;
    const memory = path.join(fx.root, `memory/tcr/${ID}`);
    fx.seams.rmdir = (dir) => {
      if (dir === memory) throw Object.assign(new Error(`EBUSY: rmdir ${dir}`), { code: 'EBUSY' });
      rmdir(dir);
    };
    const err = await runtime.run(ID, { bundle, detach: true, pidFile, ownedDirs: [owned] }).then(
      () => undefined,
      (e: unknown) => e as Error & WithSuppressed,
    );
    expect(err).toBeInstanceOf(StepError); // the launch's own error, its type and exit code kept
    expect(err!.message).toMatch(
      /^step \d+ execve "\/bin\/true": ENOENT .*\(cleaning up also failed: remove the cgroup: cgroup: cannot remove \S+\/memory\/tcr\/c1: EBUSY\)$/,
    );
    expect(err!.suppressed).toHaveLength(1);
    // every other hierarchy's directory went, and every later step ran: the host side (an owned directory here), the pid file, the state
    expect(existingLeaves()).toEqual([`memory/tcr/${ID}`]);
    expect(fs.existsSync(owned)).toBe(false);
    expect(fs.existsSync(pidFile)).toBe(false);
    expect(fs.existsSync(runtime.store.dir(ID))).toBe(false);
  });

  it("keeps the launch's error when nothing of the undo works", async () => {
    const { runtime } = runtimeWith([{ eof: true }], { onReap: () => {} });
    fx.seams.rmdir = (dir) => {
      throw Object.assign(new Error(`EPERM: rmdir ${dir}`), { code: 'EPERM' });
    }; // not retried, as EBUSY is
    vi.spyOn(runtime.store, 'remove').mockImplementation(() => {
      throw new Error('EROFS');
    });
    await expect(runtime.create(ID, { bundle })).rejects.toThrow(
      /^container init exited before it was ready \(exit status 137\) \(cleaning up also failed: remove the cgroup: cgroup: cannot remove \S+\/unified\/tcr\/c1: EPERM; (cannot remove \S+: EPERM; ){7}remove the state directory: EROFS\)$/,
    );
  });
});
