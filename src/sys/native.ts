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
  spawn(plan: Buffer, stdio?: number[], cgroupFd?: number, trampoline?: Buffer): { pid: number; sock: number; intoCgroup: boolean };
  waitpid(pid: number, nohang?: boolean): WaitStatus | null;
  waitAsync(pid: number): Promise<WaitStatus>;
  /** Waits for any process (not only a child) to end, through a pidfd; false if it had already gone. */
  waitExitAsync(pid: number): Promise<boolean>;
  mkfifo(path: string, mode?: number): void;
  /** renameat2(RENAME_EXCHANGE): the two names swap, atomically */
  exchange(a: string, b: string): void;
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
    const release = [path.join(here, '..', 'build'), path.join(here, '..', '..', 'build')].map((b) => path.join(b, 'Release'));
    const dir = release.find((d) => fs.existsSync(path.join(d, 'tcr_native.node'))) ?? release[1];
    const m = { exports: {} as NativeAddon };
    process.dlopen(m, path.join(dir, 'tcr_native.node'));
    addon = withTrampoline(m.exports, path.join(dir, 'tcr_trampoline'));
  }
  return addon;
}

/**
 * Every spawn gets the exec trampoline (native/trampoline.c): the container's
 * process and hooks are executed through a sealed memfd copy of it, so the
 * host's node binary is never /proc/self/exe when a container program starts
 * (CVE-2019-5736). Built with the addon; its absence is a broken install.
 */
function withTrampoline(raw: NativeAddon, file: string): NativeAddon {
  let bytes: Buffer | undefined;
  const spawn: NativeAddon['spawn'] = (plan, stdio, cgroupFd) => {
    try {
      bytes ??= fs.readFileSync(file);
    } catch (e) {
      throw new Error(`${file}: ${(e as Error).message} (the exec trampoline is built with the addon: npm run build)`);
    }
    return raw.spawn(plan, stdio, cgroupFd, bytes);
  };
  return Object.assign(Object.create(raw) as NativeAddon, { spawn });
}

/** Exit status as a shell reports it: the code, or 128 + the signal. */
export function shellStatus(s: WaitStatus): number {
  return s.code ?? 128 + (s.signal ?? 0);
}
