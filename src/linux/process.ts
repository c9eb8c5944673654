// The container's process: hooks run inside it, its user and groups,
// capabilities, rlimits, no_new_privs, seccomp and finally the exec, in the
// order that keeps each step possible (privileges are dropped last).
import path from 'node:path';
import type { Hook, Spec } from '../spec/types.js';
import { capMask, kernelLastCap, capNames } from './capabilities.js';
import { PlanOp, Step, type PlanStep } from './plan-steps.js';
import { RLIMITS, rlimitValue } from './rlimits.js';

export const PR = {
  SET_PDEATHSIG: 1,
  SET_DUMPABLE: 4,
  SET_KEEPCAPS: 8,
  SET_NO_NEW_PRIVS: 38,
} as const;

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where the executor may find args[0]: itself if it has a slash, else each $PATH entry. */
export function execCandidates(args0: string, env: string[] = []): string[] {
  if (args0.includes('/')) return [args0];
  const pathVar =
    [...env]
      .reverse()
      .find((e) => e.startsWith('PATH='))
      ?.slice(5) ?? DEFAULT_PATH;
  return pathVar.split(':').map((dir) => path.posix.join(dir || '.', args0));
}

export function hookStep(h: Hook, kind: string, i: number): PlanStep {
  const argv = h.args?.length ? h.args : [h.path];
  return Step.hook({
    path: h.path,
    argv,
    env: h.env ?? [],
    timeoutMs: (h.timeout ?? 0) * 1000,
    label: `run ${kind} hook ${i} (${h.path}): ${argv.join(' ')}${h.timeout ? ` (timeout ${h.timeout}s)` : ''}`,
  });
}

export interface ProcessOptions {
  /** compiled seccomp filter (struct sock_filter[]) and its flags */
  seccomp?: { filter: Buffer; flags: number; description: string };
  /** extra fds (3..) handed to the container */
  preserveFds: number;
  /** apparmor/selinux exec attributes the host can apply */
  lsmSteps: PlanStep[];
  /** the user namespace denies setgroups(2) (an ordinary user wrote its gid map): the process keeps no groups to drop */
  setgroupsDenied?: boolean;
}

function hex(mask: bigint): string {
  return '0x' + mask.toString(16).padStart(16, '0');
}

/**
 * From rlimits to the exec: the privileged steps first, seccomp as late as it
 * can be. After the filter only the calls runc makes after its own may follow
 * (prctl, capset, setgroups/setresgid/setresuid, execve, and the trace's
 * write): profiles written for runc (Docker's before 20.10, the OCI suite's,
 * many Kubernetes ones) allow no more, so fd hygiene, umask and every lookup
 * come before it.
 */
export function processSteps(spec: Spec, opts: ProcessOptions): PlanStep[] {
  return [...preparationSteps(spec, opts), ...privilegeSteps(spec, opts)];
}

/**
 * What can fail for reasons of the host (an rlimit above the hard limit, an
 * LSM label it lacks) and needs no privilege dropped: the init's plan runs it
 * before it reports "created", so such a failure fails create, as in runc,
 * rather than a container already started.
 */
export function preparationSteps(spec: Spec, opts: ProcessOptions): PlanStep[] {
  const p = spec.process!;
  const steps: PlanStep[] = [];
  for (const r of p.rlimits ?? [])
    steps.push(
      Step.rlimit({
        resource: RLIMITS[r.type],
        soft: rlimitValue(r.soft),
        hard: rlimitValue(r.hard),
        label: `setrlimit ${r.type} soft=${r.soft} hard=${r.hard}`,
      }),
    );
  if (p.oomScoreAdj !== undefined)
    steps.push(
      Step.writeFile({ path: '/proc/self/oom_score_adj', content: String(p.oomScoreAdj), label: `oom_score_adj ${p.oomScoreAdj}` }),
    );
  steps.push(...opts.lsmSteps);
  if (p.user.umask !== undefined)
    steps.push(Step.umask({ mask: p.user.umask, label: `umask ${p.user.umask.toString(8).padStart(4, '0')}` }));
  const keep = 3 + opts.preserveFds;
  steps.push(Step.fds({ keep, label: `keep fds 0-${keep - 1}, close-on-exec for every other fd` }));
  return steps;
}

/** From the filter (without no_new_privs) through capabilities and user to the exec. */
export function privilegeSteps(spec: Spec, opts: ProcessOptions): PlanStep[] {
  const p = spec.process!;
  const steps: PlanStep[] = [];
  const nnp = p.noNewPrivileges === true;
  const seccomp = opts.seccomp;
  const seccompStep: PlanStep | undefined =
    seccomp &&
    Step.seccomp({
      filter: seccomp.filter,
      filterFlags: seccomp.flags,
      label: `seccomp filter: ${seccomp.description}`,
    });
  // without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we still have it
  if (seccompStep && !nnp) steps.push(seccompStep);

  const caps = p.capabilities ?? {};
  const bounding = capMask(caps.bounding);
  steps.push(
    Step.capBounding({
      keep: bounding,
      lastCap: kernelLastCap(),
      label: `bounding set ${hex(bounding)} (${capNames(bounding).join(',') || 'none'})`,
    }),
  );
  steps.push(
    Step.prctl({ option: PR.SET_KEEPCAPS, arg2: 1, arg3: 0, label: 'prctl PR_SET_KEEPCAPS 1 (keep permitted caps across setuid)' }),
  );
  const groups = p.user.additionalGids ?? [];
  const ids = `setresgid ${p.user.gid}, setresuid ${p.user.uid}`;
  steps.push(
    opts.setgroupsDenied
      ? Step.setuser({ uid: p.user.uid, gid: p.user.gid, label: `${ids} (no setgroups: denied in this user namespace)` })
      : Step.setuser({ uid: p.user.uid, gid: p.user.gid, groups, label: `setgroups [${groups.join(',')}], ${ids}` }),
  );
  const eff = capMask(caps.effective),
    perm = capMask(caps.permitted),
    inh = capMask(caps.inheritable),
    amb = capMask(caps.ambient);
  steps.push(
    Step.capset({
      effective: eff,
      permitted: perm,
      inheritable: inh,
      label: `capset effective ${hex(eff)} permitted ${hex(perm)} inheritable ${hex(inh)}`,
    }),
  );
  steps.push(Step.prctl({ option: PR.SET_KEEPCAPS, arg2: 0, arg3: 0, label: 'prctl PR_SET_KEEPCAPS 0' }));
  // ambient caps must be both permitted and inheritable; the kernel refuses others
  const ambOk = amb & perm & inh;
  steps.push(Step.capAmbient({ ambient: ambOk, label: `ambient set ${hex(ambOk)}` }));
  if (nnp) steps.push(Step.prctl({ option: PR.SET_NO_NEW_PRIVS, arg2: 1, arg3: 0, label: 'prctl PR_SET_NO_NEW_PRIVS 1' }));
  if (seccompStep && nnp) steps.push(seccompStep);
  const args = p.args!;
  steps.push(
    Step.exec({
      candidates: execCandidates(args[0], p.env),
      argv: args,
      env: p.env ?? [],
      label: `execve ${args.map((a) => JSON.stringify(a)).join(' ')}`,
    }),
  );
  if (seccompStep) blameFilter(steps, steps.indexOf(seccompStep));
  return steps;
}

const POST_FILTER_OPS: ReadonlySet<PlanOp> = new Set([
  PlanOp.capBounding,
  PlanOp.prctl,
  PlanOp.setuser,
  PlanOp.capset,
  PlanOp.capAmbient,
  PlanOp.exec,
]);

/** Marks the steps after the filter, whose EPERM or ENOSYS the error then blames on the profile (src/container/launcher.ts). */
function blameFilter(steps: PlanStep[], at: number): void {
  for (let i = at + 1; i < steps.length; i++) {
    if (!POST_FILTER_OPS.has(steps[i].op))
      throw new Error(`plan: step ${steps[i].label} after the seccomp filter makes calls a profile for runc may deny`);
    steps[i].afterFilter = true;
  }
}
