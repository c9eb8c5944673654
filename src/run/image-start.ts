// docker's start, restart and attach of an image container: it runs again
// through a new monitor (src/run/monitor.ts) with the root filesystem it had
// (its upper layer kept) and its name; attach prints its output from now on,
// through the log the monitor writes, and ends with its exit status.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import { readExitRecord } from '../container/exit-record.js';
import { TcrError } from '../errors.js';
import type { Spec } from '../spec/types.js';
import { recordCreated } from './created-record.js';
import { forgetLaunch } from './forget-launch.js';
import { logLength, printLogs } from './log-reader.js';
import { clearStopRequest, monitorAlive, readLaunchFile } from './monitor-files.js';
import { startMonitor } from './monitor-start.js';

const dirOf = (storeRoot: string, id: string) => path.join(storeRoot, 'containers', id);
const logOf = (storeRoot: string, id: string) => path.join(dirOf(storeRoot, id), 'container.log');

/** Whether `id` is a container docker's run or create made (which tcr start launches through a monitor). */
export function isImageContainer(storeRoot: string, id: string): boolean {
  return readLaunchFile(dirOf(storeRoot, id)) !== undefined;
}

/** Launches a stopped (or created) image container again; false when it already runs, which docker's start lets be. */
export async function startImageContainer(rt: Runtime, storeRoot: string, id: string): Promise<boolean> {
  const dir = dirOf(storeRoot, id);
  if (rt.container(id).status() !== 'stopped') return false;
  if (readLaunchFile(dir)?.rm) throw new TcrError(`container ${id} was run with --rm: it is removed when it stops, not started again`, 125);
  clearStopRequest(dir);
  await forgetLaunch(rt, dir, id, false);
  try {
    await startMonitor(rt, storeRoot, id);
  } catch (e) {
    // it stays, as created, for another start or rm
    if (!rt.store.exists(id)) recordCreated(rt, id, dir, JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Spec);
    throw e;
  }
  return true;
}

/** No more output comes: the container is gone, or stopped and its monitor wrote the exit record (after the last output) or died. */
export function outputEnded(rt: Runtime, id: string): boolean {
  try {
    if (!rt.store.exists(id)) return true;
    if (rt.container(id).status() !== 'stopped') return false;
  } catch {
    return true;
  }
  const stateDir = rt.store.dir(id);
  return readExitRecord(stateDir) !== undefined || !monitorAlive(stateDir);
}

export interface Attached {
  /** the byte of the log from which the output is printed */
  from: number;
}

/** Where attach starts: what is in the log now is not printed. */
export function attachPoint(storeRoot: string, id: string): Attached {
  return { from: logLength(logOf(storeRoot, id)) };
}

/** Prints the container's output from `at` until it stops; resolves with its exit status (-1 when nobody recorded it). */
export async function attachOutput(rt: Runtime, storeRoot: string, id: string, at: Attached): Promise<number> {
  await printLogs(logOf(storeRoot, id), { follow: true, from: at.from }, () => outputEnded(rt, id));
  const end = Date.now() + 5000;
  for (;;) {
    if (!rt.store.exists(id)) return -1;
    const exit = readExitRecord(rt.store.dir(id));
    if (exit) return exit.code;
    if (!monitorAlive(rt.store.dir(id)) || Date.now() > end) return -1;
    await new Promise((r) => setTimeout(r, 20));
  }
}
