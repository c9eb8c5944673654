// The launch plan of `tcr exec`: a first stage joins every namespace of the
// running container (user first), then the process is cloned inside them
// (so it is in the container's pid namespace, and still the runtime's child)
// and set up like the init's process: cwd, terminal, rlimits, capabilities,
// user, no_new_privs, seccomp, exec.
import type { Process, Spec } from '../spec/types.js';
import { CLONE_NEW, NS_PROC_NAME } from './namespaces.js';
import { SyncPoint, type Plan } from './plan.js';
import { Step, type PlanStep } from './plan-steps.js';
import { execCandidates, PR, processSteps, type ProcessOptions } from './process.js';
import { SIGKILL, selfJoinSteps } from './launch-plan.js';

const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'] as const;

/** cgroupSelfJoin: the container's cgroup v1 directories, joined by stage 1 while it still sees the host's (the process is cloned into them) */
export function buildExecPlan(container: Spec, proc: Process, initPid: number, o: ProcessOptions & { cgroupSelfJoin?: string[] }): Plan {
  const have = new Set((container.linux?.namespaces ?? []).map((n) => n.type));
  const steps: PlanStep[] = [
    Step.prctl({ option: PR.SET_DUMPABLE, arg2: 0, arg3: 0, label: 'prctl PR_SET_DUMPABLE 0 (before entering the container)' }),
    ...selfJoinSteps(o.cgroupSelfJoin),
  ];
  for (const t of JOIN_ORDER) {
    if (!have.has(t)) continue;
    const p = `/proc/${initPid}/ns/${NS_PROC_NAME[t]}`;
    steps.push(Step.setns({ path: p, nstype: CLONE_NEW[t], label: `setns ${t} ${p}` }));
  }
  const stage1Steps = steps.length;
  // a container without a mount namespace shares the host's: setns gave no root, the init's is taken by its /proc link
  if (!have.has('mount'))
    steps.push(
      Step.chroot({
        root: `/proc/${initPid}/root`,
        moveMount: false,
        label: `chroot /proc/${initPid}/root (the container has no mount namespace)`,
      }),
    );
  const pdeath: PlanStep = Step.prctl({
    option: PR.SET_PDEATHSIG,
    arg2: SIGKILL,
    arg3: 0,
    label: 'prctl PR_SET_PDEATHSIG SIGKILL (die with the runtime until started)',
  });
  steps.push(pdeath);
  steps.push(Step.prctl({ option: PR.SET_DUMPABLE, arg2: 0, arg3: 0, label: 'prctl PR_SET_DUMPABLE 0' }));
  steps.push(Step.sync({ point: SyncPoint.start, label: "wait for the runtime (join the container's cgroup)" }));
  if (have.has('user')) {
    steps.push(Step.setuser({ uid: 0, gid: 0, label: 'become root of the user namespace' }));
    steps.push(pdeath);
  }
  steps.push(Step.chdir({ path: proc.cwd, label: `chdir ${proc.cwd}` }));
  if (proc.terminal) {
    const size = proc.consoleSize;
    steps.push(Step.setsid({ label: 'setsid (a session for the terminal)' }));
    steps.push(
      Step.console({
        rows: size?.height ?? 0,
        cols: size?.width ?? 0,
        label: "open a pty in the container's devpts: slave as stdio and controlling terminal; master to the runtime",
      }),
    );
  }
  steps.push(
    Step.findExec({
      candidates: execCandidates(proc.args![0], proc.env),
      label: `look up ${JSON.stringify(proc.args![0])} in the container`,
      failure: `exec: ${JSON.stringify(proc.args![0])}: executable file not found in $PATH or not executable`,
    }),
  );
  // cleared before the sync, as in the init's plan (launch-plan.ts): a runtime killed before its answer ends the process there
  steps.push(Step.prctl({ option: PR.SET_PDEATHSIG, arg2: 0, arg3: 0, label: 'prctl PR_SET_PDEATHSIG 0' }));
  steps.push(Step.sync({ point: SyncPoint.ready, label: 'tell the runtime the process is ready' }));
  steps.push(...processSteps({ ...container, process: proc }, o));
  return { steps, stage1Steps, cloneFlags: 0, keepFds: 3 + o.preserveFds };
}
