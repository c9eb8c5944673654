// Typed face of the native addon (native/addon.cc): the executor of launch
// plans and the syscalls every lifecycle command makes.
import path from 'node:path';
import { packageRoot } from './package-root.js';

export interface WaitStatus {
  pid: number;
  /** exit code, or null when the process was killed by a signal */
  code: number | null;
  signal: number | null;
}

/** an inflate_state of ISA-L's, freed with this object */
declare const isalState: unique symbol;
export type IsalState = { readonly [isalState]: true };

type SpawnArgs = [
  plan: Buffer,
  stdio: number[],
  cgroupFd: number,
  slotFd: number,
  executor: string,
  /** more of this process's fds that must not reach the container, even inside the kept range */
  held?: number[],
];
type Spawned = { stage1: number; pidPipe: number; sock: number };

interface NativeAddon {
  /**
   * Starts the executor program (native/executor.c) on a plan and returns once it runs: its
   * pid (stage 1), the pipe on which stage 1 reports the init, and the step socket.
   */
  spawn(...args: SpawnArgs): Spawned;
  /** spawn on libuv's thread pool: only that thread waits for the executor's exec */
  spawnAsync(...args: SpawnArgs): Promise<Spawned>;
  /** Reads stage 1's report (blocking until it comes), reaps stage 1, closes the pipe: the init's pid (-1: stage 1 failed). */
  spawnFinish(pidPipe: number, stage1: number): { pid: number; intoCgroup: boolean };
  waitpid(pid: number, nohang?: boolean): WaitStatus | null;
  waitAsync(pid: number): Promise<WaitStatus>;
  /** Waits for any process (not only a child) to end, through a pidfd; false if it had already gone. */
  waitExitAsync(pid: number): Promise<boolean>;
  mkfifo(path: string, mode?: number): void;
  /** renameat2(RENAME_EXCHANGE): the two names swap, atomically */
  exchange(a: string, b: string): void;
  flock(fd: number, exclusive: boolean, nonblocking?: boolean): boolean;
  recv(sock: number, size: number): { data: Buffer; fd: number };
  /** Resolves once fd has data or its peer closed, waiting on the event loop (no worker thread). */
  readableAsync(fd: number): Promise<void>;
  sendFdToSocket(path: string, fd: number, name?: string): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  getWinsize(fd: number): { rows: number; cols: number } | null;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags?: number): void;
  /** ISA-L's gzip inflater (native/inflate.cc): whether libisal.so.2 could be opened */
  isalAvailable(): boolean;
  isalInflateNew(): IsalState;
  /** ready for the stream's next gzip member */
  isalInflateReset(state: IsalState): void;
  /** one isal_inflate call on the thread pool, from input[offset..] into output */
  isalInflateStep(
    state: IsalState,
    input: Buffer,
    offset: number,
    output: Buffer,
  ): Promise<{ status: number; read: number; written: number; finished: boolean }>;
  recordSize: number;
  stepSize: number;
  headerSize: number;
}

let addon: NativeAddon | undefined;

/** Loaded on first use so commands that never launch a process skip it. */
export function native(): NativeAddon {
  // process.dlopen, not require: require's module resolution searches paths on every command
  if (!addon) {
    const m = { exports: {} as NativeAddon };
    process.dlopen(m, path.join(releaseDir(), 'tcr_native.node'));
    addon = m.exports;
  }
  return addon;
}

function releaseDir(): string {
  return path.join(packageRoot(), 'build', 'Release');
}

/**
 * The executor program (native/executor.c), built with the addon. Every
 * container process starts as a sealed memfd copy of it (native/spawn.c).
 */
export function executorPath(): string {
  return path.join(releaseDir(), 'tcr_executor');
}

/** Exit status as a shell reports it: the code, or 128 + the signal. */
export function shellStatus(s: WaitStatus): number {
  return s.code ?? 128 + (s.signal ?? 0);
}
