// An Executor that replays a script of init records instead of starting a
// process: the real Launch and Runtime.launch read them, answer its syncs and
// clean up, while the test watches what exists at each point.
import fs from 'node:fs';
import path from 'node:path';
import type { Executor, Spawned as SpawnResult, Started } from '../../src/container/executor.js';
import { PlanOp } from '../../src/linux/plan-steps.js';
import { decodePlan, RECORD_SIZE, RecordKind, SyncPoint, type Plan } from '../../src/linux/plan.js';
import type { WaitStatus } from '../../src/sys/native.js';

/** Above the kernel's PID_MAX_LIMIT: no process can have it, so nothing real is ever touched. */
export const FAKE_PID = 4194305;
const FAKE_SOCK = 1_000_000;
const FAKE_PID_PIPE = 1_000_001;
const FAKE_STAGE1 = FAKE_PID + 1;
const ENOENT = 2;

export type Scripted =
  | { sync: SyncPoint }
  | { step: number }
  /** a failed step; `at` picks its index from the plan the executor was handed */
  | { fail: (plan: Plan) => number; errno: number }
  /** the init hangs up: it exited, or closed the socket at its exec */
  | { eof: true };

export interface Spawned {
  plan: Plan;
  /** the directory behind the cgroup fd (CLONE_INTO_CGROUP), the file behind slot 0 */
  cgroupDir?: string;
  slotPath?: string;
}

export interface ScriptOptions {
  spawnError?: Error;
  /** the init's wait status (default: killed by SIGKILL) */
  exit?: WaitStatus;
  watch?: (event: string) => void;
  /** the init is reaped: what the kernel would do then (it leaves its cgroups) */
  onReap?: (pid: number) => void;
}

export function encodeRecord(kind: RecordKind, step: number, errno = 0, aux = 0n): Buffer {
  const b = Buffer.alloc(RECORD_SIZE);
  b.writeUInt32LE(kind, 0);
  b.writeUInt32LE(step, 4);
  b.writeInt32LE(errno, 8);
  b.writeUInt32LE(FAKE_PID, 12);
  b.writeBigInt64LE(aux, 24);
  return b;
}

const fdPath = (fd: number) => (fd >= 0 ? fs.readlinkSync(`/proc/self/fd/${fd}`) : undefined);

export class ScriptedExecutor implements Executor {
  /** everything the runtime did to the executor, in order */
  readonly log: string[] = [];
  /** the runtime's answers to each sync: [code, payload] */
  readonly answers: [number, string][] = [];
  spawned: Spawned | undefined;
  private readonly script: Scripted[];
  private joined = false;

  /**
   * `watch` runs at spawn and before each record is handed over, named as
   * the log names it, so a test can look at the state and cgroup dirs then.
   */
  constructor(
    script: Scripted[],
    private readonly opts: ScriptOptions = {},
  ) {
    this.script = [...script];
  }

  spawn(plan: Buffer, _stdio: number[], cgroupFd: number, slotFd: number): SpawnResult {
    this.log.push('spawn');
    this.spawned = { plan: decodePlan(plan), cgroupDir: fdPath(cgroupFd), slotPath: fdPath(slotFd) };
    this.opts.watch?.('spawn');
    if (this.opts.spawnError) throw this.opts.spawnError;
    // clone3(CLONE_INTO_CGROUP): the init starts in that cgroup2 directory
    if (this.spawned.cgroupDir) fs.writeFileSync(path.join(this.spawned.cgroupDir, 'cgroup.procs'), String(FAKE_PID));
    this.intoCgroup = cgroupFd >= 0;
    return { stage1: FAKE_STAGE1, pidPipe: FAKE_PID_PIPE, sock: FAKE_SOCK };
  }

  private intoCgroup = false;

  async started(s: SpawnResult): Promise<Started> {
    return this.startedNow(s);
  }

  startedNow(s: SpawnResult): Started {
    if (s.stage1 !== FAKE_STAGE1 || s.pidPipe !== FAKE_PID_PIPE) throw new Error(`started of ${s.stage1}, ${s.pidPipe}`);
    this.log.push('started');
    return { pid: FAKE_PID, intoCgroup: this.intoCgroup };
  }

  async readable(): Promise<void> {}

  recv(sock: number): { data: Buffer; fd: number } {
    if (sock !== FAKE_SOCK) throw new Error(`recv on ${sock}`);
    let next = this.script.shift() ?? { eof: true };
    if ('sync' in next && next.sync === SyncPoint.start && !this.joined) {
      this.joined = true;
      const failed = this.joinCgroups();
      if (failed !== undefined) next = { fail: () => failed, errno: ENOENT };
    }
    const name = 'sync' in next ? `sync ${SyncPoint[next.sync]}` : 'step' in next ? `step ${next.step}` : 'fail' in next ? 'fail' : 'eof';
    this.log.push(name);
    this.opts.watch?.(name);
    if ('sync' in next) return { data: encodeRecord(RecordKind.sync, 0, 0, BigInt(next.sync)), fd: -1 };
    if ('step' in next) return { data: encodeRecord(RecordKind.step, next.step), fd: -1 };
    if ('fail' in next) return { data: encodeRecord(RecordKind.fail, next.fail(this.spawned!.plan), next.errno), fd: -1 };
    return { data: Buffer.alloc(0), fd: -1 };
  }

  /**
   * What the kernel makes of the init's steps before its start sync that the
   * runtime relies on: its writes of 0 into cgroup v1 `tasks` (selfJoinSteps
   * in launch-plan.ts) put it in those cgroups, and fail where one is gone.
   * Returns the index of a failed step.
   */
  private joinCgroups(): number | undefined {
    const plan = this.spawned!.plan;
    for (let i = plan.stage1Steps; i < plan.steps.length; i++) {
      const s = plan.steps[i];
      if (s.op === PlanOp.sync) break;
      if (s.op !== PlanOp.writeFile || !s.path.endsWith('/tasks')) continue;
      const dir = path.dirname(s.path);
      if (!fs.existsSync(dir)) return i;
      fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(FAKE_PID));
    }
    return undefined;
  }

  send(sock: number, data: Buffer): void {
    if (sock !== FAKE_SOCK) throw new Error(`send on ${sock}`);
    this.answers.push([data[0], data.subarray(1).toString()]);
    this.log.push(data[0] === 0 ? 'continue' : 'abort');
  }

  close(sock: number): void {
    this.log.push(`close ${sock === FAKE_SOCK ? 'sock' : sock}`);
  }

  kill(pid: number, signal: NodeJS.Signals): void {
    this.log.push(`kill ${pid === FAKE_PID ? 'init' : pid} ${signal}`);
  }

  waitpid(pid: number): WaitStatus | null {
    this.log.push(`waitpid ${pid === FAKE_PID ? 'init' : pid}`);
    this.opts.onReap?.(pid);
    return this.opts.exit ?? { pid, code: null, signal: 9 };
  }
}
