// The files through which an image container's monitor (src/run/monitor.ts)
// and the commands around it talk, none of which is runc's state:
//   <store>/containers/ID/launch.json   how to launch it (again): written by run -d / create, read by each launch
//   <store>/containers/ID/restarts.json its RestartCount, which outlives each launch's state record
//   <store>/containers/ID/stop-requested tcr stop or rm asked for the stop: no restart undoes it (start clears it)
//   <state>/ID/monitor.pid              the monitor watching this launch, so wait and logs -f know someone will write
import fs from 'node:fs';
import path from 'node:path';
import type { NetworkRecord } from '../network/record.js';
import type { SlirpPlan } from '../network/slirp.js';
import type { HostTmpfs } from '../container/host-mounts.js';
import { writeFileAtomic } from '../container/state-store.js';
import { isSameLiveProcess, procStat } from '../container/proc.js';
import { NO_RESTART, type RestartPolicy } from './restart-policy.js';
import { readHealth, type HealthConfig, type HealthState } from './health.js';

export interface LaunchFile {
  /** the overlay's layer directories, top first (overlayfs' order) */
  lower: string[];
  /** the --rm container's overlay is volatile, and the monitor removes it at its exit */
  rm: boolean;
  restart: RestartPolicy;
  /** the network as prepareNetwork made it, before any ADD: each launch attaches it afresh */
  network?: NetworkRecord;
  /** an ordinary user's slirp4netns and its ports: each launch starts it afresh */
  slirp?: SlirpPlan;
  /** the health check its monitor runs (src/run/health.ts) */
  health?: HealthConfig;
  /** -i: its stdin is a pipe the monitor keeps open for attach clients (src/run/attach-socket.ts) */
  interactive?: boolean;
  /** -t: the monitor holds its pty master */
  tty?: boolean;
  /** --ipc shareable: its /dev/shm, a tmpfs on the host each launch mounts (src/run/shared-shm.ts) */
  shm?: HostTmpfs;
}

const LAUNCH = 'launch.json';
const RESTARTS = 'restarts.json';
const MONITOR_PID = 'monitor.pid';
const STOP = 'stop-requested';

export function writeLaunchFile(containerDir: string, f: LaunchFile): void {
  writeFileAtomic(path.join(containerDir, LAUNCH), JSON.stringify(f));
}

/** Undefined for a container that no docker-style run or create made (a bundle's, an engine's, a foreground run's). */
export function readLaunchFile(containerDir: string): LaunchFile | undefined {
  try {
    const f = JSON.parse(fs.readFileSync(path.join(containerDir, LAUNCH), 'utf8')) as LaunchFile;
    return { ...f, restart: f.restart ?? NO_RESTART };
  } catch {
    return undefined;
  }
}

export function readRestartCount(containerDir: string): number {
  try {
    const n = (JSON.parse(fs.readFileSync(path.join(containerDir, RESTARTS), 'utf8')) as { count: number }).count;
    return Number.isInteger(n) ? n : 0;
  } catch {
    return 0;
  }
}

export function writeRestartCount(containerDir: string, count: number): void {
  writeFileAtomic(path.join(containerDir, RESTARTS), JSON.stringify({ count }));
}

export function writeMonitorPid(stateDir: string): void {
  writeFileAtomic(
    path.join(stateDir, MONITOR_PID),
    JSON.stringify({ pid: process.pid, startTime: procStat(process.pid)?.startTime ?? '' }),
  );
}

/** Whether the monitor of this launch is still alive (it then writes the exit record, and restarts or removes). */
export function monitorAlive(stateDir: string): boolean {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(stateDir, MONITOR_PID), 'utf8')) as { pid: number; startTime: string };
    return isSameLiveProcess(m.pid, m.startTime);
  } catch {
    return false;
  }
}

/**
 * Tells the monitor that the coming exit was asked for (tcr stop, rm): it
 * must not restart. Kept in the container's directory, which outlives each
 * launch's state: a stop that comes while a restart is under way still counts.
 */
export function requestStop(containerDir: string): void {
  try {
    fs.writeFileSync(path.join(containerDir, STOP), '');
  } catch {
    // no such directory: no monitor (a bundle's container), nothing to restart
  }
}

export function stopRequested(containerDir: string): boolean {
  return fs.existsSync(path.join(containerDir, STOP));
}

/** `start` again: the stop asked before is over. */
export function clearStopRequest(containerDir: string): void {
  fs.rmSync(path.join(containerDir, STOP), { force: true });
}

/** What inspect shows of the monitor's: RestartCount and HostConfig.RestartPolicy. Undefined for a container without a monitor. */
export function monitorView(
  containerDir: string,
): { restartCount: number; restartPolicy: { Name: string; MaximumRetryCount: number }; health?: HealthState } | undefined {
  const f = readLaunchFile(containerDir);
  if (!f) return undefined;
  const p = f.restart;
  return {
    restartCount: readRestartCount(containerDir),
    restartPolicy: { Name: p.name, MaximumRetryCount: p.name === 'on-failure' ? p.maxRetries : 0 },
    health: f.health ? readHealth(containerDir) : undefined,
  };
}
