// Kubernetes' road to a runtime, driven as the kubelet drives it: CRI
// (gRPC, runtime.v1) → containerd 1.6's CRI plugin → containerd-shim-runc-v2
// → the runtime, called exactly as runc is. One private containerd (its own
// config, root, state, sockets, CNI bridge and pod subnet: test/e2e/cri/env.ts)
// has two runtime handlers, `runc` and `tcr`; every scenario runs with runc
// first, the control lane (a scenario failing there is a test bug), then with
// tcr. The scenarios live in test/e2e/cri/*.ts by subject; each asserts what
// the processes inside see (/proc, mountinfo, cgroup files), not only what
// the CRI answers.
import { afterAll, beforeAll, describe } from 'vitest';
import { lacks } from '../helpers.js';
import { LANES, RUNC, which } from './lib.js';
import { basicScenarios } from './cri/basic.js';
import { CriEnv, criAvailable } from './cri/env.js';
import { lifecycleScenarios } from './cri/lifecycle.js';
import { namespaceScenarios } from './cri/namespaces.js';
import { securityScenarios } from './cri/security.js';
import { streamingScenarios } from './cri/streaming.js';
import type { Ctx } from './cri/scenario.js';

// runc first: the control lane
const lanes = [...LANES].sort((a, b) => (a.name === 'runc' ? -1 : b.name === 'runc' ? 1 : 0));
const available = criAvailable() && !!RUNC && !!which('mount');

let env: CriEnv | undefined;

describe.skipIf(lacks(available))('CRI (containerd 1.6 CRI plugin, runc v2 shim) with runtime handlers runc and tcr', () => {
  beforeAll(async () => {
    env = await CriEnv.start(lanes);
  }, 120_000);

  afterAll(async () => {
    await env?.cleanup(lanes);
  }, 120_000);

  for (const lane of lanes) {
    describe(`runtime handler ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
      const ctx: Ctx = {
        lane,
        env: () => {
          if (!env) throw new Error('the CRI environment did not start');
          return env;
        },
      };
      basicScenarios(ctx);
      streamingScenarios(ctx);
      securityScenarios(ctx);
      namespaceScenarios(ctx);
      lifecycleScenarios(ctx);
    });
  }
});
