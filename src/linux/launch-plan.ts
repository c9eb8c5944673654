// Builds the whole launch plan for a container's init from its config.json:
// the order of everything the executor does between clone() and execve().
import type { Spec } from '../spec/types.js';
import { deviceSteps } from './devices.js';
import {
  MS,
  mountSteps,
  protectPathSteps,
  rootPropagationAfter,
  rootPropagationBefore,
  rootStaysShared,
  flagNames,
  type MountContext,
} from './mounts.js';
import { planNamespaces } from './namespaces.js';
import { SyncPoint, type Plan } from './plan.js';
import { startWaitsForExec } from './start-wait.js';
import { Step, type PlanStep } from './plan-steps.js';
import { execCandidates, hookStep, preparationSteps, privilegeSteps, PR, type ProcessOptions } from './process.js';

export interface LaunchPlanOptions extends ProcessOptions {
  bundle: string;
  /** absolute path of the rootfs on the host */
  rootfs: string;
  /** the exec fifo `start` opens, which the runtime hands over open (slot 0); absent for `run`, which starts at once */
  execFifo?: string;
  noPivot?: boolean;
  noNewKeyring?: boolean;
  containerId: string;
  cgroupV2: boolean;
  /** the container's cgroup directories, by hierarchy name ("" on v2) */
  cgroupSources: Map<string, string>;
  /** cgroup v1 directories the init joins by itself (CgroupManager.selfJoinDirs) */
  cgroupSelfJoin?: string[];
  /** the mount point of the mount holding the rootfs (needed only where / stays shared) */
  rootfsMount?: string;
  /** the runtime is an ordinary user (runc --rootless): see src/container/rootless.ts */
  rootless?: { setgroupsDenied: boolean };
  /** the overlay data of a rootfs the init mounts itself, in its namespaces (an ordinary user's; src/container/host-mounts.ts overlayInNamespace) */
  rootfsOverlay?: string;
  /** the runtime itself runs in a user namespace that is not the host's (rootless podman's): no mknod there either */
  inUserNamespace?: boolean;
}

export const SIGKILL = 9;

/** A single-threaded process moving itself into cgroup v1 directories: see CgroupManager.selfJoinDirs for why. */
export function selfJoinSteps(dirs: string[] = []): PlanStep[] {
  return dirs.map((dir) =>
    Step.writeFile({
      path: `${dir}/tasks`,
      content: '0',
      label: `join the cgroup ${dir} (0 into its tasks: a thread moving itself, without the kernel's global lock)`,
    }),
  );
}
const FIFO_SLOT = 0;

export function buildLaunchPlan(spec: Spec, o: LaunchPlanOptions): Plan {
  const ns = planNamespaces(spec);
  const steps: PlanStep[] = [];
  const pdeath: PlanStep = Step.prctl({
    option: PR.SET_PDEATHSIG,
    arg2: SIGKILL,
    arg3: 0,
    label: 'prctl PR_SET_PDEATHSIG SIGKILL (die with the runtime until created)',
  });

  // stage 1, the executor before it clones the init, has steps only when joining namespaces: become part of them
  if (ns.joinSteps.length) {
    steps.push(Step.prctl({ option: PR.SET_DUMPABLE, arg2: 0, arg3: 0, label: 'prctl PR_SET_DUMPABLE 0 (before entering the container)' }));
    steps.push(...ns.joinSteps);
  }
  const stage1Steps = steps.length;

  const notDumpable = Step.prctl({
    option: PR.SET_DUMPABLE,
    arg2: 0,
    arg3: 0,
    label: "prctl PR_SET_DUMPABLE 0 (its /proc files stay host root's, no ptrace from the container)",
  });
  // An ordinary user's map writers (the runtime, newuidmap) may open /proc/PID/uid_map and setgroups
  // only while those files are the user's, and `exec` into a created container opens its ns files:
  // as runc --rootless, the init stays dumpable. It holds nothing above the user's own rights, and a
  // container process with fewer capabilities cannot ptrace it (the kernel's capability subset rule).
  const mapsByUser = !!o.rootless && ns.newUser;
  steps.push(pdeath);
  if (!mapsByUser) steps.push(notDumpable);
  steps.push(...selfJoinSteps(o.cgroupSelfJoin));
  steps.push(Step.sync({ point: SyncPoint.start, label: 'wait for the runtime (id maps, cgroup, state)' }));
  if (ns.newUser || ns.joinedUser) {
    steps.push(Step.setuser({ uid: 0, gid: 0, label: 'become root of the user namespace' }));
    steps.push(pdeath); // a change of credentials clears the parent-death signal
  }
  steps.push(...ns.afterStart);
  if (!o.noNewKeyring)
    steps.push(Step.joinKeyring({ name: `_ses.${o.containerId}`, label: `join a new session keyring _ses.${o.containerId}` }));
  if (spec.hostname !== undefined && ns.has('uts'))
    steps.push(Step.sethostname({ hostname: spec.hostname, label: `sethostname ${JSON.stringify(spec.hostname)}` }));
  if (spec.domainname !== undefined && ns.has('uts'))
    steps.push(Step.setdomainname({ domainname: spec.domainname, label: `setdomainname ${JSON.stringify(spec.domainname)}` }));
  if (ns.isNew('network')) steps.push(Step.loopbackUp({ label: 'bring up lo in the new network namespace' }));

  // Without a mount namespace the container shares the runtime's (the spec's word): its mounts
  // are made in the host's, under the rootfs, and delete undoes them (HostCleanup.madeUnder);
  // the host's own / is never touched.
  const mountNs = ns.has('mount');
  if (mountNs) {
    const before = rootPropagationBefore(spec);
    steps.push(
      Step.mount({
        target: '/',
        mountFlags: before,
        label: `make / ${flagNames(before)} (${rootStaysShared(spec) ? 'rootfsPropagation: shared volumes stay peers of the host' : 'nothing propagates back to the host'})`,
      }),
    );
    if (rootStaysShared(spec)) {
      // pivot_root refuses a shared parent, and the rootfs' own mounts must not reach the host
      const holder = o.rootfsMount ?? '/';
      steps.push(
        Step.mount({
          target: holder,
          mountFlags: MS.PRIVATE,
          label: `make ${holder}, the mount holding the rootfs, private (its mounts stay in the container)`,
        }),
      );
    }
    steps.push(
      o.rootfsOverlay !== undefined
        ? Step.mount({
            source: 'overlay',
            target: o.rootfs,
            fstype: 'overlay',
            data: o.rootfsOverlay,
            mountFlags: 0,
            label: `mount the image's overlay on ${o.rootfs} in the container's namespaces (gone with them)`,
          })
        : Step.mount({
            source: o.rootfs,
            target: o.rootfs,
            mountFlags: MS.BIND | MS.REC,
            label: `bind the rootfs ${o.rootfs} on itself (pivot_root needs a mount point)`,
          }),
    );
  }
  steps.push(Step.setRoot({ path: o.rootfs, label: `resolve container paths inside ${o.rootfs}` }));
  const ctx: MountContext = {
    bundle: o.bundle,
    userns: ns.newUser || ns.joinedUser || !!o.inUserNamespace,
    cgroupV2: o.cgroupV2,
    cgroupSources: o.cgroupSources,
    cgroupNs: ns.has('cgroup'),
  };
  (spec.mounts ?? []).forEach((m, i) => steps.push(...mountSteps(m, i, ctx)));
  steps.push(...deviceSteps(spec, ctx.userns));
  const cwd = spec.process!.cwd;
  steps.push(Step.mkdir({ path: cwd, mode: 0o755, label: `mkdir ${cwd} (the process' working directory)` }));

  const hooks = spec.hooks ?? {};
  if (hooks.prestart?.length || hooks.createRuntime?.length)
    steps.push(Step.sync({ point: SyncPoint.runtimeHooks, label: 'wait for the runtime to run prestart and createRuntime hooks' }));
  (hooks.createContainer ?? []).forEach((h, i) => steps.push(hookStep(h, 'createContainer', i)));

  if (mountNs && o.noPivot) {
    steps.push(Step.chroot({ root: o.rootfs, moveMount: true, label: `move the rootfs to / and chroot (--no-pivot)` }));
  } else if (mountNs) {
    steps.push(Step.pivotRoot({ root: o.rootfs, label: `pivot_root ${o.rootfs}, detach the old root` }));
  } else {
    steps.push(
      Step.chroot({
        root: o.rootfs,
        moveMount: false,
        label: `chroot ${o.rootfs} (no mount namespace: the host's, shared; no mount is moved)`,
      }),
    );
  }
  steps.push(Step.setRoot({ path: '/', label: 'resolve container paths inside the new /' }));
  const after = rootPropagationAfter(spec);
  if (mountNs && after !== undefined)
    steps.push(Step.mount({ target: '/', mountFlags: after, label: `make / ${flagNames(after)} (rootfsPropagation)` }));
  // sysctls before readonlyPaths (which usually hold /proc/sys), as runc orders them
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {}))
    steps.push(Step.writeFile({ path: `/proc/sys/${key.replace(/\./g, '/')}`, content: value, label: `sysctl ${key}=${value}` }));
  steps.push(...protectPathSteps(spec));
  if (mountNs && spec.root?.readonly) steps.push(Step.remountRo({ path: '/', label: 'remount / read-only (root.readonly)' }));
  steps.push(Step.chdir({ path: cwd, label: `chdir ${cwd}` }));
  steps.push(Step.setsid({ label: 'setsid (a session of its own)' }));
  if (spec.process!.terminal) {
    const size = spec.process!.consoleSize;
    steps.push(
      Step.console({
        rows: size?.height ?? 0,
        cols: size?.width ?? 0,
        path: '/dev/console',
        label: `open a pty in the container's devpts: slave as stdio, controlling terminal and /dev/console; master to the runtime${size ? ` (${size.width}x${size.height})` : ''}`,
      }),
    );
  }
  const args0 = spec.process!.args![0];
  steps.push(
    Step.findExec({
      candidates: execCandidates(args0, spec.process!.env),
      label: `look up ${JSON.stringify(args0)} in the container`,
      failure: `exec: ${JSON.stringify(args0)}: executable file not found in $PATH or not executable`,
    }),
  );

  steps.push(...preparationSteps(spec, o));
  // before the ready sync, never after: `create` exits as soon as it has answered, and a
  // parent-death signal still set then would kill a container already reported created.
  // A runtime killed before answering still ends the init: its sync reads EOF.
  steps.push(
    Step.prctl({
      option: PR.SET_PDEATHSIG,
      arg2: 0,
      arg3: 0,
      label:
        'prctl PR_SET_PDEATHSIG 0 (the container will outlive the runtime; a runtime killed before its answer still ends it at the next step)',
    }),
  );
  steps.push(
    Step.sync({
      point: SyncPoint.ready,
      last: !!o.execFifo,
      label: o.execFifo
        ? 'tell the runtime the container is created (its last answer: the socket closes)'
        : 'tell the runtime the container is created',
    }),
  );
  if (o.execFifo) {
    const untilStartExits = !startWaitsForExec(spec.hooks);
    steps.push(
      Step.fifoWait({
        slot: FIFO_SLOT,
        untilStartExits,
        label:
          `wait on the exec fifo ${o.execFifo} until \`start\` (opened by the runtime, handed over as slot ${FIFO_SLOT}), ` +
          (untilStartExits
            ? 'then until `start` has exited, so the program runs only once its caller saw it started'
            : 'keeping it open until the exec, whose end of file tells `start` to run the poststart hooks'),
      }),
    );
  }
  (hooks.startContainer ?? []).forEach((h, i) => steps.push(hookStep(h, 'startContainer', i)));
  steps.push(...privilegeSteps(spec, { ...o, setgroupsDenied: o.rootless?.setgroupsDenied }));

  return { steps, stage1Steps, cloneFlags: ns.cloneFlags, keepFds: 3 + o.preserveFds };
}
