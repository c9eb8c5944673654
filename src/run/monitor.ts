// `tcr monitor ID` (hidden): the process that stays with a detached image
// container, as podman's conmon does. It launches the container itself, so
// the init is its child: it alone can read the exit status. It tells the
// `run -d` (or `start`) that spawned it how the launch went through fd 3,
// then logs the container's output (log-pipes.ts), serves its attach socket
// (attach-socket.ts: stdin, the terminal, output to clients), waits, writes the exit
// record, gives the network address back, and then restarts the container
// as --restart says, or removes it (--rm). Killed, it leaves the container
// running (its next write to stdout gets EPIPE); `tcr rm -f` still removes it.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import { errorMessage } from '../errors.js';
import { log } from '../log.js';
import { LogPipes } from './log-pipes.js';
import { AttachServer, openStdinPipe } from './attach-socket.js';
import { HealthChecker } from './health.js';
import { forgetLaunch } from './forget-launch.js';
import { readLaunchFile, stopRequested, writeMonitorPid, writeRestartCount, type LaunchFile } from './monitor-files.js';
import { Backoff, shouldRestart } from './restart-policy.js';
import { launchStatus } from './monitor-start.js';

/** The rootfs where overlayfs is unavailable: the layers copied (the unpacking bundle, loaded only then). */
async function copyLayers(bottomFirst: string[], target: string): Promise<void> {
  (await import('../image/flatten.js')).flattenLayers(bottomFirst, target);
}

/** How the monitor answers its starter, once: a line of JSON on fd 3, which is then closed. */
class Report {
  constructor(private fd: number) {}

  get pending(): boolean {
    return this.fd >= 0;
  }

  /** A line before the answer: the attach socket listens (`start -a` connects, then the launch goes on). */
  listening(): void {
    try {
      fs.writeSync(this.fd, JSON.stringify({ listening: true }) + '\n');
    } catch {
      // the starter is gone: starterGone() tells
    }
  }

  send(answer: { ok: true } | { ok: false; message: string; status: number }): void {
    if (this.fd < 0) return;
    try {
      fs.writeSync(this.fd, JSON.stringify(answer) + '\n');
    } catch {
      // the starter is gone (killed): the container runs all the same
    }
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Output left in the pipes when the init exits is logged within this long; a copy held elsewhere does not hold the exit up longer. */
const DRAIN_MS = 2000;

/** How one launch waits for its starter's attach: `start -a` connects before the container runs, as docker's. */
interface AttachWait {
  report: Report;
  gone: () => boolean;
}

/** One launch of the container; resolves with its exit status once it ran and stopped. */
async function launchOnce(
  rt: Runtime,
  dir: string,
  id: string,
  plan: LaunchFile,
  running: (pid: number) => void,
  wait?: AttachWait,
): Promise<number> {
  const attach = new AttachServer(dir, !!plan.interactive);
  await attach.listen();
  if (wait) {
    wait.report.listening();
    await attach.clientConnected(wait.gone);
  }
  const logs = new LogPipes(dir, path.join(dir, 'container.log'), (stream, chunk) => attach.broadcast(stream, chunk));
  let health: HealthChecker | undefined;
  const devnull = fs.openSync('/dev/null', 'r');
  const stdin = plan.interactive && !plan.tty ? openStdinPipe(dir) : undefined;
  let stdinFd = stdin?.containerEnd ?? -1;
  const closeStdinEnd = () => {
    if (stdinFd >= 0) fs.closeSync(stdinFd);
    stdinFd = -1;
  };
  let status: number | undefined;
  try {
    return (status = await rt.run(id, {
      bundle: dir,
      keep: true,
      stdio: [stdinFd >= 0 ? stdinFd : devnull, ...logs.writeFds],
      overlay: {
        lower: plan.lower,
        upper: path.join(dir, 'upper'),
        work: path.join(dir, 'work'),
        target: path.join(dir, 'rootfs'),
        volatile: plan.rm,
        copyLayers,
      },
      // not the directory: a launch that fails must not take the upper layer of a container started again (rm removes it)
      ownedDirs: [],
      network: plan.network,
      slirp: plan.slirp,
      onConsole: plan.tty
        ? (master) => {
            logs.followTerminal(master);
            attach.setInput({ kind: 'terminal', master });
          }
        : undefined,
      hostTmpfs: plan.shm,
      onRunning: (pid) => {
        logs.closeWriteEnds();
        closeStdinEnd();
        if (stdin) attach.setInput({ kind: 'pipe', socket: stdin.ours });
        writeMonitorPid(rt.store.dir(id));
        if (plan.health) health = new HealthChecker(rt.store.root, dir, id, plan.health);
        running(pid);
      },
      onExit: (code) => {
        health?.stop();
        attach.endInput(); // the master is closed with the output's end
        status = code;
        return logs.drained(DRAIN_MS);
      },
    }));
  } finally {
    health?.stop();
    fs.closeSync(devnull);
    closeStdinEnd();
    stdin?.ours.destroy();
    attach.endInput();
    await logs.drained(0);
    attach.close(status);
  }
}

/** --rm: the container, its overlay and directory, and its anonymous volumes (never its named ones, as docker's --rm). */
async function remove(rt: Runtime, storeRoot: string, dir: string, id: string): Promise<void> {
  const { VolumeStore, readVolumeUses } = await import('../volumes/store.js');
  const uses = readVolumeUses(dir);
  try {
    await rt.container(id).delete(true);
  } catch (e) {
    if (rt.store.exists(id)) throw e; // a tcr rm that won the race is not an error
  }
  fs.rmSync(dir, { recursive: true, force: true });
  new VolumeStore(storeRoot).removeAnonymous(uses);
}

export async function monitor(rt: Runtime, storeRoot: string, id: string, reportFd: number): Promise<void> {
  process.title = `tcr-monitor ${id}`;
  const report = new Report(reportFd);
  const dir = path.join(storeRoot, 'containers', id);
  const plan = readLaunchFile(dir);
  if (!plan)
    return report.send({
      ok: false,
      message: `container ${id} has no launch.json in ${dir}: it was not made by run -d or create`,
      status: 125,
    });
  // the `run -d` or `start` that spawned this monitor, until it has the answer: killed before, it started nothing
  // (its pid from the environment: read at our start, ppid might already be init's)
  const starter = Number(process.env.TCR_MONITOR_STARTER);
  delete process.env.TCR_MONITOR_STARTER;
  const starterGone = () => starter > 0 && process.ppid !== starter;
  if (starterGone()) return;
  let abandoned = false;
  const backoff = new Backoff();
  let restarts = 0;
  writeRestartCount(dir, 0);
  // `start -a`: the first launch waits for the starter's attach
  const awaitAttach = process.env.TCR_MONITOR_ATTACH === '1';
  delete process.env.TCR_MONITOR_ATTACH;
  for (;;) {
    const began = Date.now();
    let status: number;
    try {
      // the network's names as they are now: a rename while it ran changed them (src/run/rename.ts)
      const current = { ...plan, network: readLaunchFile(dir)?.network ?? plan.network };
      status = await launchOnce(
        rt,
        dir,
        id,
        current,
        (pid) => {
          if (report.pending && starterGone()) {
            // killed while the launch went on: as a run killed before the monitor started, it leaves no container running
            abandoned = true;
            process.kill(pid, 'SIGKILL');
            return;
          }
          report.send({ ok: true });
          // a stop that came while this restart was under way: it may have found nothing running to stop
          if (restarts > 0 && stopRequested(dir)) process.kill(pid, 'SIGKILL');
        },
        awaitAttach && restarts === 0 ? { report, gone: starterGone } : undefined,
      );
    } catch (e) {
      if (report.pending) return report.send({ ok: false, message: errorMessage(e), status: launchStatus(e) });
      if (!rt.store.exists(id)) return; // removed while it ran (rm -f)
      throw e;
    }
    if (plan.rm) return remove(rt, storeRoot, dir, id);
    if (abandoned) {
      try {
        await rt.container(id).delete(true);
      } catch (e) {
        if (rt.store.exists(id)) throw e; // a tcr rm -f that won the race is not an error
      }
      return;
    }
    const stopped = stopRequested(dir) || !rt.store.exists(id);
    if (!shouldRestart(plan.restart, status, restarts, stopped)) return;
    await new Promise((r) => setTimeout(r, backoff.next(Date.now() - began)));
    try {
      if (!(await forgetLaunch(rt, dir, id, true))) return;
    } catch (e) {
      log.error(`container ${id}: could not clear its stopped launch for a restart: ${errorMessage(e)}`);
      return;
    }
    writeRestartCount(dir, ++restarts);
  }
}
