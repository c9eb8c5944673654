// `tcr exec`: a new process inside a running container, in every one of its
// namespaces and its cgroup, with the container's seccomp profile and the
// process settings given (runc's --process file, or flags over the
// container's own process).
import fs from 'node:fs';
import { compileSeccompCached, seccompCacheDir } from '../linux/seccomp-cache.js';
import { joinedCgroups, managerFromRecord } from '../cgroups/manager.js';
import { refuseUngrantable } from '../linux/capabilities.js';
import { withHome } from './passwd.js';
import { TcrError } from '../errors.js';
import { buildExecPlan } from '../linux/exec-plan.js';
import { SyncPoint } from '../linux/plan.js';
import { native } from '../sys/native.js';
import type { Process } from '../spec/types.js';
import { Attachment } from './attach.js';
import { Launch } from './launcher.js';
import { lsmSteps } from './lsm.js';
import { removeOwnPidFile, undoFailedLaunch } from './undo.js';
import { writeFileAtomic, type StateStore } from './state-store.js';
import { deriveStatus } from './status.js';

export interface ExecOptions {
  process: Process;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number;
  trace?: boolean;
  stdio?: number[];
}

/** Whether the init's user namespace denies setgroups(2), as one whose maps an ordinary user wrote does. */
function setgroupsDeniedIn(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim() === 'deny';
  } catch {
    return false; // no such file: an old kernel, where setgroups is never denied
  }
}

/** Runs the process; resolves with its exit status (0 at once when detached). */
export async function execInContainer(store: StateStore, id: string, o: ExecOptions): Promise<number> {
  const rec = store.read(id);
  const status = deriveStatus(rec, store);
  if (status !== 'running' && status !== 'created') throw new TcrError(`cannot exec in a ${status} container`);
  const proc = { ...o.process, env: withHome(o.process.env, o.process.user?.uid ?? 0, [rec.rootfs]) };
  if (!Array.isArray(proc.args) || proc.args.length === 0) throw new TcrError('exec: no command given (process.args is empty)');
  if (!proc.cwd?.startsWith('/')) throw new TcrError(`exec: cwd ${JSON.stringify(proc.cwd)} must be an absolute path`);
  if (proc.terminal && !o.consoleSocket && o.detach)
    throw new TcrError('exec: a detached terminal process needs --console-socket to receive its terminal');
  const ungrantable = refuseUngrantable(proc.capabilities);
  if (ungrantable) throw new TcrError(`exec: ${ungrantable}`);
  const seccomp = rec.config.linux?.seccomp ? await compileSeccompCached(rec.config.linux.seccomp, seccompCacheDir()) : undefined;
  const spec = { ...rec.config, process: proc };
  const cgroup = rec.cgroup ? managerFromRecord(rec.cgroup) : undefined;
  const plan = buildExecPlan(rec.config, proc, rec.pid, {
    cgroupSelfJoin: cgroup?.selfJoinDirs(),
    seccomp,
    preserveFds: o.preserveFds ?? 0,
    lsmSteps: lsmSteps(spec),
    setgroupsDenied: setgroupsDeniedIn(rec.pid),
  });
  const attach = o.detach ? undefined : new Attachment();
  const onConsole = (master: number) => {
    if (!o.consoleSocket) return attach ? attach.onConsole(master) : fs.closeSync(master);
    try {
      native().sendFdToSocket(o.consoleSocket, master);
    } finally {
      fs.closeSync(master);
    }
  };
  let launch: Launch | undefined;
  let pidWritten = 0;
  try {
    launch = new Launch(plan, { trace: o.trace, stdio: o.stdio, onConsole, cgroupDir: cgroup?.unifiedDir() });
    const started = launch;
    await launch.follow((point, pid) => {
      if (point === SyncPoint.start && cgroup) cgroup.apply(pid, joinedCgroups(cgroup, started));
      if (point === SyncPoint.ready && o.pidFile) {
        writeFileAtomic(o.pidFile, String(pid));
        pidWritten = pid; // an exec that fails after this must not leave it naming a dead pid
      }
    }, true);
    launch.close();
  } catch (e) {
    throw await undoFailedLaunch(e, [
      ['stop the process', () => launch?.abort()],
      ['detach from its terminal', () => attach?.abandon()],
      [
        'remove --pid-file',
        () => {
          if (pidWritten) removeOwnPidFile(o.pidFile!, pidWritten);
        },
      ],
    ]);
  }
  return attach ? attach.wait(launch.pid) : 0;
}

/** The process runc builds for `exec ARGS...`: the container's, with the flags over it. */
export function processFromFlags(
  base: Process,
  f: {
    args: string[];
    env?: string[];
    cwd?: string;
    user?: string;
    cap?: string[];
    tty?: boolean;
    noNewPrivs?: boolean;
    apparmor?: string;
    processLabel?: string;
  },
): Process {
  const p = JSON.parse(JSON.stringify(base)) as Process;
  p.args = f.args;
  p.terminal = !!f.tty;
  delete p.consoleSize;
  if (f.cwd) p.cwd = f.cwd;
  if (f.env?.length) p.env = [...(p.env ?? []), ...f.env];
  if (f.user) {
    const m = /^(\d+)(?::(\d+))?$/.exec(f.user);
    if (!m) throw new TcrError(`--user ${JSON.stringify(f.user)}: give uid[:gid] as numbers`);
    p.user = { ...p.user, uid: Number(m[1]), gid: m[2] !== undefined ? Number(m[2]) : p.user.gid };
  }
  if (f.cap?.length) {
    const c = (p.capabilities ??= {});
    for (const cap of f.cap) {
      const name = cap.toUpperCase().startsWith('CAP_') ? cap.toUpperCase() : `CAP_${cap.toUpperCase()}`;
      for (const set of ['bounding', 'effective', 'permitted'] as const) (c[set] ??= []).push(name);
    }
  }
  if (f.noNewPrivs) p.noNewPrivileges = true;
  if (f.apparmor) p.apparmorProfile = f.apparmor;
  if (f.processLabel) p.selinuxLabel = f.processLabel;
  return p;
}
