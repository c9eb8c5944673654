// Typed face of the native addon (native/addon.cc): the executor of launch
// plans and the syscalls every lifecycle command makes.
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';

export interface WaitStatus {
  pid: number;
  /** exit code, or null when the process was killed by a signal */
  code: number | null;
  signal: number | null;
}

interface NativeAddon {
  spawn(plan: Buffer, stdio?: number[], cgroupFd?: number): { pid: number; sock: number; intoCgroup: boolean };
  waitpid(pid: number, nohang?: boolean): WaitStatus | null;
  waitAsync(pid: number): Promise<WaitStatus>;
  /** Waits for any process (not only a child) to end, through a pidfd; false if it had already gone. */
  waitExitAsync(pid: number): Promise<boolean>;
  mkfifo(path: string, mode?: number): void;
  flock(fd: number, exclusive: boolean, nonblocking?: boolean): boolean;
  recv(sock: number, size: number): { data: Buffer; fd: number };
  sendFdToSocket(path: string, fd: number, name?: string): void;
  setWinsize(fd: number, rows: number, cols: number): void;
  getWinsize(fd: number): { rows: number; cols: number } | null;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void;
  umount(target: string, flags?: number): void;
  recordSize: number;
  stepSize: number;
  headerSize: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
let addon: NativeAddon | undefined;

/** Loaded on first use so commands that never launch a process skip it. */
export function native(): NativeAddon {
  if (!addon) {
    // dist/sys/native.js (tsc) or dist/tcr.cjs (esbuild): the package root is one or two levels up.
    // process.dlopen, not require: the module resolver's path searching cost ~2 ms of every command.
    const candidates = [path.join(here, '..', 'build'), path.join(here, '..', '..', 'build')].map((b) => path.join(b, 'Release', 'tcr_native.node'));
    const m = { exports: {} as NativeAddon };
    process.dlopen(m, candidates.find((c) => fs.existsSync(c)) ?? candidates[1]);
    addon = m.exports;
  }
  return addon;
}

/** Exit status as a shell reports it: the code, or 128 + the signal. */
export function shellStatus(s: WaitStatus): number {
  return s.code ?? 128 + (s.signal ?? 0);
}
