// The library entry: a Runtime creates containers from bundles and finds
// recorded ones. The CLI is a thin layer over it; tests and Node-based
// orchestrators use it directly without paying Node's start-up per command.
import { writeExitRecord } from './exit-record.js';
import fs from 'node:fs';
import { TcrError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { cgroupLayout } from '../cgroups/detect.js';
import { joinedCgroups, managerFor, type CgroupManager, type CgroupSeams } from '../cgroups/manager.js';
import { refuseUngrantable } from '../linux/capabilities.js';
import { withHome } from './passwd.js';
import { buildLaunchPlan } from '../linux/launch-plan.js';
import { rootStaysShared } from '../linux/mounts.js';
import { compileSeccompCached, seccompCacheDir } from '../linux/seccomp-cache.js';
import { hostUid, inUserNamespace } from '../linux/userns.js';
import { SyncPoint, type Plan } from '../linux/plan.js';
import { native } from '../sys/native.js';
import type { Spec } from '../spec/types.js';
import { loadBundle, type Bundle } from './bundle.js';
import { Container } from './container.js';
import { RecordedContainers } from './recorded.js';
import { runHooks } from './hooks.js';
import type { Executor } from './executor.js';
import { Launch } from './launcher.js';
import { Attachment } from './attach.js';
import {
  mountHostTmpfs,
  mountOverlay,
  overlayInNamespace,
  mountPointOf,
  mountsAt,
  undoHostMounts,
  type HostCleanup,
  type HostTmpfs,
  type OverlayRootfs,
} from './host-mounts.js';
import { lsmSteps } from './lsm.js';
import { removeOwnPidFile, undoFailedLaunch } from './undo.js';
import { checkRootlessSpec, isRootless, rootlessCgroups, setgroupsDenied, writeIdMaps } from './rootless.js';
import { newRecord } from './new-record.js';
import { ownCgroupSources, refuseLimitsWithoutCgroup, userCgroup } from '../cgroups/delegation.js';
import { namespaceId, procStat } from './proc.js';
import type { NetworkRecord } from '../network/record.js';
import type { SlirpPlan } from '../network/slirp.js';
import { DEFAULT_ROOT, StateStore, validateId, writeFileAtomic } from './state-store.js';
import { ociState } from './status.js';
import type { TraceRecorder } from './trace-record.js';

export interface CreateOptions {
  bundle?: string;
  pidFile?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  preserveFds?: number;
  trace?: boolean;
  /** keeps every launch step's span (--trace=FILE, the anatomy lab) */
  recorder?: TraceRecorder;
  /** fds for the container's stdin, stdout, stderr (default: the runtime's own) */
  stdio?: number[];
  /** unix socket that receives the pty master of a terminal container (runc's --console-socket) */
  consoleSocket?: string;
  /** an image container's root: overlaid layers, mounted once the container is recorded */
  overlay?: OverlayRootfs;
  /** a tmpfs on the host that the container binds (a shareable /dev/shm), mounted and undone with the overlay */
  hostTmpfs?: HostTmpfs;
  /** directories that belong to the container and go with it (an image container's) */
  ownedDirs?: string[];
  /** an image container's bridge networking, attached at the start sync (src/network/attach.ts); engines do their own */
  network?: NetworkRecord;
  /** an ordinary user's image container: slirp4netns, started at the start sync (src/network/slirp.ts) */
  slirp?: SlirpPlan;
}

export interface RunOptions extends CreateOptions {
  detach?: boolean;
  keep?: boolean;
  /** once the process runs (after poststart): an image container's monitor tells the `run -d` that started it */
  onRunning?: (pid: number) => void;
  /** after the exit, before the exit record: the monitor writes the last of the output to the log first */
  onExit?: (status: number) => Promise<void>;
  /** a terminal container's pty master for the caller to serve (an image container's monitor), instead of our own terminal */
  onConsole?: (master: number) => void;
  /** a foreground terminal's output as it is shown (an image container logs it) */
  onTerminalOutput?: (chunk: Buffer) => void;
}

export class Runtime {
  readonly store: StateStore;
  /** new containers get systemd scopes (runc's --systemd-cgroup) */
  readonly systemdCgroup: boolean;
  /** the host's cgroupfs and the native executor unless given: unit tests pass a fixture tree and a scripted executor */
  private readonly cgroupSeams: CgroupSeams;
  private readonly executor: Executor | undefined;

  constructor(opts: { root?: string; systemdCgroup?: boolean; cgroupSeams?: CgroupSeams; executor?: Executor } = {}) {
    this.store = new StateStore(opts.root ?? DEFAULT_ROOT);
    this.systemdCgroup = !!opts.systemdCgroup;
    this.cgroupSeams = opts.cgroupSeams ?? {};
    this.executor = opts.executor;
  }

  container(id: string): Container {
    return new RecordedContainers(this.store).container(id);
  }

  list(): ReturnType<typeof ociState>[] {
    return new RecordedContainers(this.store).list();
  }

  /** The launch plan a create would execute, without running anything. */
  async plan(bundleDir: string, opts: CreateOptions & { id?: string } = {}): Promise<Plan> {
    const bundle = loadBundle(bundleDir);
    refuseUngrantableCaps(bundle.spec);
    const id = opts.id ?? 'dry-run';
    const cgroup = this.cgroupFor(bundle.spec, id);
    return this.buildPlan(bundle, id, opts, this.store.fifo(id), cgroup.manager);
  }

  /**
   * The container's cgroup manager, or none for an ordinary user's container
   * where no cgroup is delegated to them (rootless.ts); limits then fail.
   */
  private cgroupFor(spec: Spec, id: string): { manager?: CgroupManager; note?: string } {
    // a user's --systemd-cgroup container is a scope of their own manager (systemd --user), as with runc
    if (!rootlessCgroups() || this.systemdCgroup)
      return { manager: managerFor(spec.linux?.cgroupsPath, id, this.systemdCgroup, this.cgroupSeams) };
    const uc = userCgroup(spec.linux?.cgroupsPath, id, hostUid(), this.cgroupSeams);
    if (!uc.manager) refuseLimitsWithoutCgroup(spec.linux?.resources, uc.note);
    if (uc.warn) log.warn(`rootless: ${uc.note}`);
    else log.debug(`rootless: ${uc.note}`);
    return uc;
  }

  private async buildPlan(
    bundle: Bundle,
    id: string,
    opts: CreateOptions,
    fifo: string | undefined,
    cgroup: CgroupManager | undefined,
  ): Promise<Plan> {
    // HOME is the runtime's to add, as runc does, when neither the image nor the engine gave one
    const spec: Spec = {
      ...bundle.spec,
      process: { ...bundle.spec.process!, env: withHome(bundle.spec.process!.env, bundle.spec.process!.user.uid, [bundle.rootfs]) },
    };
    // compiled once per profile, then read from the cache (see seccomp-cache.ts)
    const seccomp = spec.linux?.seccomp ? await compileSeccompCached(spec.linux.seccomp, seccompCacheDir()) : undefined;
    const layout = this.cgroupSeams.layout ?? cgroupLayout();
    return buildLaunchPlan(spec, {
      bundle: bundle.dir,
      rootfs: bundle.rootfs,
      execFifo: fifo,
      noPivot: opts.noPivot,
      noNewKeyring: opts.noNewKeyring,
      containerId: id,
      preserveFds: opts.preserveFds ?? 0,
      seccomp,
      lsmSteps: lsmSteps(spec),
      cgroupV2: layout.unified,
      cgroupSources: cgroup?.mountSources() ?? ownCgroupSources(layout),
      cgroupSelfJoin: cgroup?.selfJoinDirs(),
      rootless: isRootless() ? { setgroupsDenied: setgroupsDenied(spec) } : undefined,
      inUserNamespace: inUserNamespace(),
      rootfsMount: rootStaysShared(spec) ? mountPointOf(bundle.rootfs) : undefined,
      rootfsOverlay: opts.overlay && isRootless() ? overlayInNamespace(opts.overlay) : undefined,
    });
  }

  /** create: the init waits on the exec fifo until start. */
  async create(id: string, opts: CreateOptions = {}): Promise<Container> {
    await this.launch(id, opts, false);
    return new Container(id, this.store);
  }

  /** create + start + wait: resolves with the exit status (128+N for signal N). */
  async run(id: string, opts: RunOptions = {}): Promise<number> {
    // attached before the container exists, so no signal meanwhile is lost
    const attach = opts.detach ? undefined : new Attachment({ serveConsole: opts.onConsole, tee: opts.onTerminalOutput });
    let launch: Launch;
    try {
      launch = await this.launch(id, opts, true, attach?.onConsole);
    } catch (e) {
      attach?.abandon();
      throw e;
    }
    const container = new Container(id, this.store);
    container.runPoststart(this.store.read(id));
    if (!attach) return 0;
    opts.onRunning?.(launch.pid);
    const status = await attach.wait(launch.pid);
    if (opts.slirp) (await import('../network/slirp.js')).stopSlirp(id);
    await opts.onExit?.(status);
    if (!opts.keep) await container.delete(true);
    else {
      // for wait and inspect, as docker keeps it; a container removed meanwhile (rm -f) has nowhere to keep it
      try {
        writeExitRecord(this.store.dir(id), status);
      } catch (e) {
        if (this.store.exists(id)) throw e;
      }
      // kept: its upper layer stays, unmounted until rm; its shareable /dev/shm goes, as docker's at a stop
      const mounted = [hostOverlay(opts), opts.hostTmpfs?.target].filter((t): t is string => !!t);
      if (mounted.length) undoHostMounts({ unmount: mounted, remove: [] });
      if (opts.network) await container.releaseNetwork();
    }
    return status;
  }

  private async launch(id: string, opts: RunOptions, run: boolean, keepConsole?: (master: number) => void): Promise<Launch> {
    validateId(id);
    const loadStart = performance.now();
    const bundle = loadBundle(opts.bundle ?? '.');
    opts.recorder?.add({
      side: 'runtime',
      label: 'read config.json, check the bundle',
      kind: 'other',
      start: loadStart,
      end: performance.now(),
      result: 'ok',
    });
    refuseUngrantableCaps(bundle.spec); // before the state directory or cgroup exists
    if (isRootless()) checkRootlessSpec(bundle.spec);
    const userCg = this.cgroupFor(bundle.spec, id);
    const listen = listenFds();
    if (listen > 0) {
      // socket activation, as runc passes it on: the fds follow 0-2, the process is told of them
      bundle.spec.process!.env = [...(bundle.spec.process!.env ?? []), `LISTEN_FDS=${listen}`, 'LISTEN_PID=1'];
      opts = { ...opts, preserveFds: (opts.preserveFds ?? 0) + listen };
    }
    if (bundle.spec.process?.terminal && !opts.consoleSocket && (!run || opts.detach))
      throw new TcrError(
        'process.terminal: a container that tcr does not stay attached to (create, run --detach) needs --console-socket to receive its terminal',
      );
    if (opts.consoleSocket && !bundle.spec.process?.terminal)
      throw new TcrError('--console-socket: process.terminal is false, so there is no terminal to send');
    const onConsole = (master: number) => {
      if (!opts.consoleSocket) return keepConsole ? keepConsole(master) : fs.closeSync(master);
      try {
        native().sendFdToSocket(opts.consoleSocket, master);
      } catch (e) {
        throw new TcrError(`--console-socket ${opts.consoleSocket}: ${(e as Error).message}`);
      } finally {
        fs.closeSync(master);
      }
    };
    if (opts.preserveFds !== undefined && !(Number.isInteger(opts.preserveFds) && opts.preserveFds >= 0))
      throw new TcrError(`--preserve-fds: ${opts.preserveFds} is not a count of fds`);
    const lock = this.store.claim(id);
    let launch: Launch | undefined;
    let cgroup: CgroupManager | undefined;
    let pidWritten = 0;
    const unmount = [hostOverlay(opts), opts.hostTmpfs?.target].filter((t): t is string => !!t);
    let hostCleanup: HostCleanup | undefined = unmount.length || opts.ownedDirs ? { unmount, remove: opts.ownedDirs ?? [] } : undefined;
    const rec = newRecord(id, bundle);
    try {
      const spec = bundle.spec;
      cgroup = userCg.manager;
      rec.cgroup = cgroup?.record;
      rec.hostCleanup = hostCleanup;
      this.store.write(rec); // the intent is recorded before anything is made
      if (opts.overlay && !isRootless()) await mountOverlay(opts.overlay);
      if (opts.hostTmpfs) mountHostTmpfs(opts.hostTmpfs);
      if (!spec.linux?.namespaces?.some((n) => n.type === 'mount')) {
        // no mount namespace: the init mounts in the host's, under the rootfs; delete undoes all that was not there now
        hostCleanup = {
          unmount: [],
          remove: [],
          ...hostCleanup,
          madeUnder: { dir: bundle.rootfs, keep: mountsAt(bundle.rootfs).map((m) => m.id) },
        };
        rec.hostCleanup = hostCleanup;
        this.store.write(rec);
      }
      const cgroupStart = performance.now();
      cgroup?.create();
      await cgroup?.set(spec.linux?.resources ?? {});
      opts.recorder?.add({
        side: 'runtime',
        label: cgroup ? 'make the cgroup, write its limits' : (userCg.note ?? 'no cgroup'),
        kind: 'cgroups',
        start: cgroupStart,
        end: performance.now(),
        result: 'ok',
      });
      const fifo = run ? undefined : this.store.fifo(id);
      if (fifo) {
        native().mkfifo(fifo, 0o622);
        // mkfifo's mode went through the umask; the init may be an unprivileged host
        // uid (the root of a user namespace) and must be able to open it for writing
        fs.chmodSync(fifo, 0o622);
      }
      const planStart = performance.now();
      const plan = await this.buildPlan(bundle, id, opts, fifo, cgroup);
      opts.recorder?.add({
        side: 'runtime',
        label: `build the launch plan (${plan.steps.length} steps)`,
        kind: 'other',
        start: planStart,
        end: performance.now(),
        result: 'ok',
      });
      launch = new Launch(plan, {
        trace: opts.trace,
        recorder: opts.recorder,
        stdio: opts.stdio,
        cgroupDir: cgroup?.unifiedDir(),
        slotPath: fifo,
        onConsole,
        executor: this.executor,
      });
      const cg = cgroup;
      await launch.follow(async (point, pid) => {
        if (point === SyncPoint.start) {
          rec.pid = pid;
          rec.startTime = procStat(pid)?.startTime ?? '';
          if (spec.linux?.namespaces?.some((n) => n.type === 'pid' && !n.path)) rec.pidNamespace = namespaceId(pid, 'pid');
          rec.network = opts.network; // recorded before any of it is made
          this.store.write(rec);
          // before the init runs a single step of the container's (a systemd scope starts here)
          await cg?.applyInit(pid, joinedCgroups(cg, launch!));
          writeIdMaps(spec, pid);
          // the init is in its new network namespace and runs nothing of the container's until this answer
          if (rec.network) await (await import('../network/attach.js')).attachNetwork(this.store, rec, pid);
          if (opts.slirp) await (await import('../network/slirp.js')).startSlirp(id, this.store.dir(id), pid, opts.slirp);
          return JSON.stringify(ociState(rec, 'creating'));
        }
        if (point === SyncPoint.runtimeHooks) {
          const state = ociState(rec, 'creating');
          runHooks('prestart', spec.hooks?.prestart, state);
          runHooks('createRuntime', spec.hooks?.createRuntime, state);
          return JSON.stringify(state);
        }
        rec.phase = 'created';
        this.store.write(rec);
        if (opts.pidFile) {
          writeFileAtomic(opts.pidFile, String(pid));
          pidWritten = pid; // run: an exec that fails after this must not leave it naming a dead pid
        }
        return JSON.stringify(ociState(rec, 'created'));
      }, run);
      launch.close();
      return launch;
    } catch (e) {
      // each step runs whatever the others did, and the launch's own error is the one thrown
      const made = hostCleanup;
      // a network DEL that failed keeps the record, so `tcr rm` can try it again
      let keepRecord = false;
      throw await undoFailedLaunch(e, [
        ['stop the init', () => launch?.abort()],
        [
          'stop slirp4netns',
          async () => {
            if (opts.slirp) (await import('../network/slirp.js')).stopSlirp(id);
          },
        ],
        [
          'detach the network',
          async () => {
            if (!rec.network) return;
            try {
              await (await import('../network/attach.js')).detachNetwork(this.store, rec);
            } catch (d) {
              keepRecord = true;
              log.warn(`${errorMessage(d)}; the container stays recorded: remove it with tcr rm ${id}`);
            }
          },
        ],
        ['remove the cgroup', () => cgroup?.destroy()],
        [
          'undo the host mounts',
          () => {
            if (made) undoHostMounts(made);
          },
        ],
        [
          'remove --pid-file',
          () => {
            if (pidWritten) removeOwnPidFile(opts.pidFile!, pidWritten);
          },
        ],
        [
          'remove the state directory',
          () => {
            if (!keepRecord) this.store.remove(id);
          },
        ],
      ]);
    } finally {
      lock.release();
    }
  }
}

function refuseUngrantableCaps(spec: Spec): void {
  const ungrantable = refuseUngrantable(spec.process?.capabilities);
  if (ungrantable) throw new TcrError(ungrantable);
}

/** systemd socket activation fds handed to tcr (LISTEN_FDS), if they are for this process. */
function listenFds(): number {
  const n = Number(process.env.LISTEN_FDS ?? 0);
  const pid = process.env.LISTEN_PID;
  if (!Number.isInteger(n) || n <= 0) return 0;
  return pid === undefined || Number(pid) === process.pid ? n : 0;
}

/** The overlay mounted on the host, which the runtime unmounts: root's; an ordinary user's is in the container's namespace. */
function hostOverlay(opts: CreateOptions): string | undefined {
  return isRootless() ? undefined : opts.overlay?.target;
}
