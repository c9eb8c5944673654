// AppArmor and SELinux labels for the container's process: applied through
// /proc/self/attr at exec when the host runs that LSM, skipped with a warning
// otherwise (as a container must still start on a host without it).
import fs from 'node:fs';
import { Step, type PlanStep } from '../linux/plan-steps.js';
import { log } from '../log.js';
import type { Spec } from '../spec/types.js';

function apparmorEnabled(): boolean {
  try {
    return fs.readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').trim() === 'Y';
  } catch {
    return false;
  }
}

function selinuxEnabled(): boolean {
  return fs.existsSync('/sys/fs/selinux/enforce');
}

export function lsmSteps(spec: Spec): PlanStep[] {
  const steps: PlanStep[] = [];
  const profile = spec.process?.apparmorProfile;
  if (profile) {
    if (apparmorEnabled()) {
      const attr = fs.existsSync('/proc/self/attr/apparmor/exec') ? '/proc/self/attr/apparmor/exec' : '/proc/self/attr/exec';
      steps.push(Step.writeFile({ path: attr, content: `exec ${profile}`, label: `apparmor profile ${profile} at exec` }));
    } else {
      log.warn(`process.apparmorProfile ${JSON.stringify(profile)} ignored: AppArmor is not enabled on this host`);
    }
  }
  const label = spec.process?.selinuxLabel;
  if (label) {
    if (selinuxEnabled())
      steps.push(Step.writeFile({ path: '/proc/self/attr/exec', content: label, label: `selinux label ${label} at exec` }));
    else log.warn(`process.selinuxLabel ${JSON.stringify(label)} ignored: SELinux is not enabled on this host`);
  }
  return steps;
}
