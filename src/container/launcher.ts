// Runs a launch plan: hands it to the native executor, then follows the
// init through its socket, answering each sync point and turning the
// executor's records into trace lines or a precise error.
import fs from 'node:fs';
import { StepError, TcrError } from '../errors.js';
import { decodeRecord, encodePlan, PLAN_TRACE, RECORD_SIZE, RecordKind, CLONE_STEP, SyncPoint, type Plan } from '../linux/plan.js';
import { PlanOp } from '../linux/plan-steps.js';
import { log } from '../log.js';
import { CLONE_NEW } from '../linux/namespaces.js';
import { errnoName, errnoText } from '../sys/errno.js';
import { shellStatus } from '../sys/native.js';
import { nativeExecutor, type Executor, type Spawned, type Started } from './executor.js';
import { kindOfOp, type TraceRecorder } from './trace-record.js';

export type SyncHandler = (point: SyncPoint, pid: number) => Buffer | string | void | Promise<Buffer | string | void>;

export interface LaunchOptions {
  trace?: boolean;
  /** receives the pty master of a terminal container (the launcher no longer owns the fd) */
  onConsole?: (fd: number) => void;
  /** fds for the container's 0, 1, 2 (-1 or absent: the runtime's own) */
  stdio?: number[];
  /** a cgroup v2 directory the init is cloned straight into */
  cgroupDir?: string;
  /** a file the runtime opens (O_PATH) for the plan's slot 0: the exec fifo, in a directory the init may not be able to search */
  slotPath?: string;
  /** default: the native executor */
  executor?: Executor;
  /** keeps every step's span (--trace=FILE, the anatomy lab) */
  recorder?: TraceRecorder;
}

const O_PATH = 0o10000000; // not in fs.constants; Linux's value on every architecture but alpha, parisc and sparc

const SYNC_CONTINUE = 0;
/** native/executor.h SYNC_PAYLOAD_MAX: the init's buffer for an answer, its code byte included */
export const SYNC_ANSWER_MAX = 65536;
const SYNC_ABORT = 1;

const SYNC_LABEL: Record<SyncPoint, string> = {
  [SyncPoint.start]: 'runtime: id maps, cgroup, state, network',
  [SyncPoint.runtimeHooks]: 'runtime: prestart and createRuntime hooks',
  [SyncPoint.ready]: 'runtime: record the container as created',
};

function cloneFlagNames(plan: Plan): string {
  const names = Object.entries(CLONE_NEW)
    .filter(([, f]) => plan.cloneFlags & f)
    .map(([t]) => `CLONE_NEW${t === 'mount' ? 'NS' : t === 'network' ? 'NET' : t.toUpperCase()}`);
  return (plan.stage1Steps ? ['(stage 1, then the init with)'] : []).concat(names).join('|') || '(no new namespaces)';
}

const EPERM = 1,
  ENOSPC = 28,
  ENOSYS = 38;

/** The failure of stage 1's clone of the init, which no plan step names. */
function cloneFailure(plan: Plan, errno: number): TcrError {
  const user = (plan.cloneFlags & CLONE_NEW.user) !== 0;
  const hint =
    errno === EPERM && user
      ? ': the kernel refused a new user namespace (a chrooted runtime, kernel.unprivileged_userns_clone=0, or a seccomp or LSM rule of the caller)'
      : errno === ENOSPC
        ? ': a namespace limit is reached (/proc/sys/user/max_*_namespaces)'
        : '';
  return new TcrError(`clone of the init with ${cloneFlagNames(plan)}: ${errnoName(errno)} (${errnoText(errno)})${hint}`);
}

/** What a denial after the seccomp filter most likely means. */
function filterBlame(step: Plan['steps'][number] | undefined, errno: number): string | undefined {
  if (!step?.afterFilter || (errno !== EPERM && errno !== ENOSYS)) return undefined;
  return 'linux.seccomp: the profile probably denies a call made after it is loaded (as runc, tcr loads it before the capabilities, user and exec steps: the profile must allow prctl, capset, setgroups, setresgid, setresuid and execve)';
}

export class Launch {
  /** the init's, once stage 1 has cloned it (follow's first wait); -1 before */
  pid = -1;
  /** the init was cloned straight into opts.cgroupDir (clone3 CLONE_INTO_CGROUP) */
  intoCgroup = false;
  private sock = -1;
  /** until stage 1's report is read */
  private spawned: Spawned | undefined;
  /** until the executor runs, when it is spawned on the thread pool */
  private spawning: Promise<Spawned> | undefined;
  /** launches of this process between their spawn and the end of follow() (or an abort) */
  private static underWay = 0;
  private counted = false;

  private settle(): void {
    if (!this.counted) return;
    this.counted = false;
    Launch.underWay--;
  }
  private readonly spawnStart = performance.now();
  private readonly t0 = process.hrtime.bigint();
  private ready = false;
  private readonly executor: Executor;

  constructor(
    private readonly plan: Plan,
    private readonly opts: LaunchOptions = {},
  ) {
    this.executor = opts.executor ?? nativeExecutor;
    const buf = encodePlan(plan, opts.trace || opts.recorder ? PLAN_TRACE : 0);
    const cgroupFd = opts.cgroupDir ? fs.openSync(opts.cgroupDir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY) : -1;
    let slotFd = -1;
    // the executor has its own copies once it runs
    const closeOwn = () => {
      if (cgroupFd >= 0) fs.closeSync(cgroupFd);
      if (slotFd >= 0) fs.closeSync(slotFd);
    };
    try {
      if (opts.slotPath) slotFd = fs.openSync(opts.slotPath, O_PATH);
      const stdio = opts.stdio ?? [-1, -1, -1];
      // On the thread pool while other launches of this process are under way (a library's),
      // which this thread then goes on with; alone, the hop there and back would only add to
      // this one's time. Never when fds past stdio are passed on: the spawn reads which of the
      // process's fds are the runtime's (its locks) when it is asked, and this thread could
      // take a lock meanwhile, into a hole of that range.
      const others = Launch.underWay > 0;
      Launch.underWay++;
      this.counted = true;
      if (this.executor.spawnAsync && others && plan.keepFds <= 3) {
        this.spawning = this.executor.spawnAsync(buf, stdio, cgroupFd, slotFd).finally(closeOwn);
        this.spawning.catch(() => {}); // follow() or abort() takes the outcome
        return;
      }
      this.spawned = this.executor.spawn(buf, stdio, cgroupFd, slotFd);
      this.sock = this.spawned.sock;
    } catch (e) {
      closeOwn();
      throw e;
    }
    closeOwn();
  }

  /** Takes stage 1's report of the init it cloned: on the event loop, or (an undo) blocking. */
  private async awaitInit(): Promise<void> {
    if (this.spawning) {
      const spawning = this.spawning;
      this.spawned = await spawning;
      this.spawning = undefined;
      this.sock = this.spawned.sock;
    }
    const s = this.spawned;
    if (!s) return;
    this.noteInit(await this.executor.started(s));
  }

  private noteInit({ pid, intoCgroup }: Started): void {
    this.spawned = undefined;
    this.pid = pid;
    this.intoCgroup = intoCgroup;
    const { opts, plan } = this;
    if (opts.recorder) {
      opts.recorder.planSteps = plan.steps.length;
      const label = `spawn the executor; ${intoCgroup ? 'clone3' : 'clone'} ${cloneFlagNames(plan)}`;
      this.stepClock = performance.now();
      opts.recorder.add({ side: 'executor', label, kind: 'namespaces', start: this.spawnStart, end: this.stepClock, pid, result: 'ok' });
    }
    if (opts.trace) {
      const at = (Number(process.hrtime.bigint() - this.t0) / 1e6).toFixed(3).padStart(9);
      log.trace(
        `[${at} ms] executor started from a sealed memfd (native/executor.c); its stage 1 did ${intoCgroup ? 'clone3' : 'clone'} ${cloneFlagNames(plan)}${intoCgroup ? ` CLONE_INTO_CGROUP ${opts.cgroupDir}` : ''} -> init pid ${pid}\n`,
      );
    }
  }

  /**
   * Follows the init until it reports ready (or, with untilExec, until it has
   * exec'd the process). Throws a StepError naming the failed step.
   */
  async follow(onSync: SyncHandler, untilExec: boolean): Promise<void> {
    try {
      await this.followRecords(onSync, untilExec);
    } finally {
      this.settle();
    }
  }

  private async followRecords(onSync: SyncHandler, untilExec: boolean): Promise<void> {
    await this.awaitInit();
    for (;;) {
      await this.executor.readable(this.sock);
      // recvmsg, not read: a record may carry an fd (the pty master)
      const { data, fd } = this.executor.recv(this.sock, RECORD_SIZE);
      if (data.length === 0) {
        if (this.ready) return; // the exec closed the socket: the process runs
        throw new TcrError(`container init exited before it was ready${this.exitText()}`);
      }
      const rec = decodeRecord(data);
      const step = this.plan.steps[rec.step];
      if (rec.kind === RecordKind.console) {
        if (this.opts.onConsole && fd >= 0) this.opts.onConsole(fd);
        else if (fd >= 0) fs.closeSync(fd);
      } else if (rec.kind === RecordKind.step) {
        this.traceLine(rec.step, `ok`, rec.nanos, rec.pid);
      } else if (rec.kind === RecordKind.fail) {
        this.traceLine(rec.step, `FAILED ${errnoName(rec.errno)}`, 0n, rec.pid);
        this.reap();
        if (rec.step === CLONE_STEP) throw cloneFailure(this.plan, rec.errno);
        throw new StepError(
          rec.step,
          step?.label ?? '?',
          rec.errno,
          errnoName(rec.errno),
          errnoText(rec.errno),
          step?.failure ?? filterBlame(step, rec.errno),
          step?.op,
        );
      } else if (rec.kind === RecordKind.sync) {
        const point = Number(rec.aux) as SyncPoint;
        if (this.opts.trace) this.traceLine(rec.step, 'waiting for the runtime', 0n, rec.pid);
        let payload: Buffer | string | void;
        const syncStart = performance.now();
        try {
          payload = await onSync(point, this.pid);
        } catch (e) {
          this.answer(SYNC_ABORT);
          this.reap();
          throw e;
        } finally {
          const label = SYNC_LABEL[point] ?? `runtime: sync point ${point}`;
          const kind = point === SyncPoint.start ? 'cgroups' : 'sync';
          this.answeredAt = performance.now();
          this.opts.recorder?.add({ side: 'runtime', label, kind, start: syncStart, end: this.answeredAt, step: rec.step, result: 'ok' });
        }
        try {
          this.answer(SYNC_CONTINUE, this.fitted(payload));
        } catch (e) {
          this.answer(SYNC_ABORT);
          this.reap();
          throw e;
        }
        if (point === SyncPoint.ready) {
          this.ready = true;
          // the init closes its end once it has this last answer (launch-plan.ts): returning only
          // then, `create` exits with the init past its last step that the runtime's exit could end
          if (!untilExec) return this.awaitHangUp();
        }
      }
    }
  }

  /** Reads until the init closes the socket (or is gone); records sent meanwhile are traced. */
  private awaitHangUp(): void {
    for (;;) {
      const { data, fd } = this.executor.recv(this.sock, RECORD_SIZE);
      if (fd >= 0) fs.closeSync(fd);
      if (data.length === 0) return;
      const rec = decodeRecord(data);
      if (rec.kind === RecordKind.step) this.traceLine(rec.step, 'ok', rec.nanos, rec.pid);
    }
  }

  /**
   * The state goes to the init only for its container-side hooks (their
   * stdin); without them it is left out. With them it must fit the init's
   * buffer: a longer one would reach the hooks cut short.
   */
  private fitted(payload: Buffer | string | void): Buffer | string | void {
    if (payload === undefined || !this.plan.steps.some((s) => s.op === PlanOp.hook)) return undefined;
    const size = Buffer.byteLength(payload);
    if (size + 1 > SYNC_ANSWER_MAX)
      throw new TcrError(
        `the container's state is ${size} bytes of JSON (its annotations, mostly): more than the ${SYNC_ANSWER_MAX - 1} its createContainer and startContainer hooks can be given on stdin`,
      );
    return payload;
  }

  private answer(code: number, payload?: Buffer | string | void): void {
    const body = payload === undefined ? Buffer.alloc(0) : Buffer.from(payload);
    try {
      this.executor.send(this.sock, Buffer.concat([Buffer.from([code]), body]));
    } catch {
      // the init is gone; the next read reports it
    }
  }

  private traceLine(index: number, result: string, nanos: bigint, pid: number): void {
    this.record(index, result, nanos, pid);
    if (!this.opts.trace) return;
    const at = Number(process.hrtime.bigint() - this.t0) / 1e6;
    const label = index === CLONE_STEP ? 'clone of the init' : (this.plan.steps[index]?.label ?? '?');
    const took = nanos > 0n ? ` ${(Number(nanos) / 1000).toFixed(0)}µs` : '';
    log.trace(`[${at.toFixed(3).padStart(9)} ms] pid ${pid} step ${String(index).padStart(3)} ${label}: ${result}${took}\n`);
  }

  private stepClock = 0;
  private answeredAt = 0;

  /**
   * The init's steps run back to back, each with the duration it measured itself; their records
   * may arrive in bursts (the runtime reads them between its own work), so arrival times would
   * misplace them: each span starts where the one before ended, and a sync step's ends at the answer.
   */
  private record(index: number, result: string, nanos: bigint, pid: number): void {
    if (!this.opts.recorder || result === 'waiting for the runtime') return;
    const step = this.plan.steps[index];
    const start = this.stepClock;
    let end = start + Number(nanos) / 1e6;
    if (step?.op === PlanOp.sync) end = Math.max(end, this.answeredAt);
    this.stepClock = end;
    const side = index < this.plan.stage1Steps ? 'executor' : 'init';
    this.opts.recorder.add({ side, label: step?.label ?? '?', kind: kindOfOp(step?.op), start, end, step: index, pid, result });
  }

  private exitStatus: ReturnType<Executor['waitpid']> = null;

  /** Waits for a failed init so no zombie or half-made process stays. */
  private reap(): void {
    // an undo before follow read stage 1's report: read it now, to know which init to stop
    if (this.spawned) this.noteInit(this.executor.startedNow(this.spawned));
    if (this.pid <= 0 || this.exitStatus) return;
    try {
      this.executor.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    try {
      this.exitStatus = this.executor.waitpid(this.pid);
    } catch {
      // not our child (reaped elsewhere)
    }
  }

  private exitText(): string {
    this.reap();
    return this.exitStatus ? ` (exit status ${shellStatus(this.exitStatus)})` : '';
  }

  /** Kills and reaps the init: the undo of a create that failed half-way. */
  abort(): void {
    this.settle();
    const spawning = this.spawning;
    if (spawning) {
      // aborted before follow() took the spawn: undo it once it is done
      this.spawning = undefined;
      spawning.then(
        (s) => {
          this.spawned = s;
          this.sock = s.sock;
          this.abort();
        },
        () => {},
      );
      return;
    }
    this.reap();
    this.close();
  }

  close(): void {
    this.settle();
    if (this.sock >= 0) this.executor.close(this.sock);
    this.sock = -1;
  }
}
