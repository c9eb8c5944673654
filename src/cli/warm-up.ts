// Runs, with no effect outside this process, the code every create runs
// (spec validation, the launch plan, its encoding) and the fast path's
// parser. scripts/bundle.mjs calls it before it takes V8's code cache of the
// bundle, so those functions arrive compiled instead of being compiled
// lazily at each command.
import { buildLaunchPlan } from '../linux/launch-plan.js';
import { encodePlan } from '../linux/plan.js';
import { defaultSpec } from '../spec/defaults.js';
import { validateSpec } from '../spec/validate.js';
import { parseFastPath } from './fast-path.js';

export function warmUp(): void {
  for (const argv of [
    ['--root', 'r', 'create', '--bundle', 'b', '--pid-file', 'p', 'id'],
    ['start', 'id'],
    ['state', 'id'],
    ['kill', 'id', '9'],
    ['delete', '-f', 'id'],
    ['run', '--rm', '-e', 'A=1', 'busybox', 'true'],
  ])
    parseFastPath(argv);
  for (const cgroupV2 of [false, true]) {
    const spec = defaultSpec();
    spec.process!.args = ['true'];
    validateSpec(spec);
    const sources = new Map(cgroupV2 ? [['', '/sys/fs/cgroup/tcr/warm-up']] : [['memory', '/sys/fs/cgroup/memory/tcr/warm-up']]);
    encodePlan(
      buildLaunchPlan(spec, {
        bundle: '/warm-up',
        rootfs: '/warm-up/rootfs',
        containerId: 'warm-up',
        preserveFds: 0,
        lsmSteps: [],
        cgroupV2,
        cgroupSources: sources,
      }),
    );
  }
}
