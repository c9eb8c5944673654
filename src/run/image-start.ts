// docker's start, restart and attach of an image container: it runs again
// through a new monitor (src/run/monitor.ts) with the root filesystem it had
// (its upper layer kept) and its name; attach prints its output from now on,
// through the monitor's attach socket (attach-client.ts: stdin and the
// terminal too), and ends with its exit status. A container whose monitor
// serves no socket (started by an older tcr) is followed through its log.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import { readExitRecord } from '../container/exit-record.js';
import { TcrError } from '../errors.js';
import { log } from '../log.js';
import type { Spec } from '../spec/types.js';
import { recordCreated } from './created-record.js';
import { forgetLaunch } from './forget-launch.js';
import { logLength, printLogs } from './log-reader.js';
import { clearStopRequest, monitorAlive, readLaunchFile } from './monitor-files.js';
import { startMonitor } from './monitor-start.js';
import { connectAttach, runAttach, sendHello } from './attach-client.js';
import { SignalForwarder } from '../container/signal-forwarder.js';

const dirOf = (storeRoot: string, id: string) => path.join(storeRoot, 'containers', id);
const logOf = (storeRoot: string, id: string) => path.join(dirOf(storeRoot, id), 'container.log');

/** Whether `id` is a container docker's run or create made (which tcr start launches through a monitor). */
export function isImageContainer(storeRoot: string, id: string): boolean {
  return readLaunchFile(dirOf(storeRoot, id)) !== undefined;
}

/**
 * Launches a stopped (or created) image container again; false when it already runs, which docker's start lets be.
 * `onListening` (start -a): called once its attach socket is up, before the container runs.
 */
export async function startImageContainer(rt: Runtime, storeRoot: string, id: string, onListening?: () => Promise<void>): Promise<boolean> {
  const dir = dirOf(storeRoot, id);
  if (rt.container(id).status() !== 'stopped') return false;
  if (readLaunchFile(dir)?.rm) throw new TcrError(`container ${id} was run with --rm: it is removed when it stops, not started again`, 125);
  clearStopRequest(dir);
  await forgetLaunch(rt, dir, id, false);
  try {
    await startMonitor(rt, storeRoot, id, onListening);
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
  return recordedExit(rt, id);
}

/** The exit status its monitor records (-1 when nobody does): the attach socket closed without telling it. */
async function recordedExit(rt: Runtime, id: string): Promise<number> {
  const end = Date.now() + 5000;
  for (;;) {
    if (!rt.store.exists(id)) return -1;
    const exit = readExitRecord(rt.store.dir(id));
    if (exit) return exit.code;
    if (!monitorAlive(rt.store.dir(id)) || Date.now() > end) return -1;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What an attach forwards besides the output (attach's flags, or start -a's and -i's). */
export interface AttachRequest {
  /** forward our stdin, when the container has one open (-i) */
  stdin: boolean;
  /** --detach-keys, parsed (detach-keys.ts) */
  detachKeys: Buffer;
  /** --sig-proxy: the signals we get go to the container (docker does so only without -t) */
  sigProxy: boolean;
}

/** A connected attach: proxies until the container exits (its status) or the user detaches (undefined). */
export type Attaching = () => Promise<number | undefined>;

/** Connects to the container's attach socket; undefined when its monitor serves none. */
export async function openAttach(rt: Runtime, storeRoot: string, id: string, req: AttachRequest): Promise<Attaching | undefined> {
  const plan = readLaunchFile(dirOf(storeRoot, id));
  // docker proxies signals only to a container without a terminal (with one, ^C is a byte typed into it)
  const forwarder = req.sigProxy && !plan?.tty ? new SignalForwarder().install() : undefined;
  let sock: Awaited<ReturnType<typeof connectAttach>>;
  try {
    sock = await connectAttach(dirOf(storeRoot, id));
  } finally {
    if (!sock) forwarder?.uninstall();
  }
  if (!sock) return undefined;
  sendHello(sock, !!plan?.tty);
  return async () => {
    const end = await runAttach(sock, {
      stdin: req.stdin && !!plan?.interactive,
      tty: !!plan?.tty,
      detachKeys: req.detachKeys,
      signals: forwarder && { forwarder, pid: () => (rt.store.exists(id) ? rt.store.read(id).pid : undefined) },
    });
    if (end.kind === 'exited') return end.status;
    if (end.kind === 'detached') return undefined;
    if (end.kind === 'dropped')
      throw new TcrError(
        `attach: the container's monitor stopped sending this client its output: ${end.why}. tcr logs ${id} has all of it`,
        1,
      );
    log.warn(`attach: the connection to container ${id}'s monitor closed before it told the exit status: output may be missing`);
    return recordedExit(rt, id);
  };
}
