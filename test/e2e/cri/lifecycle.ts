// CRI scenarios of what stays behind: many pods at once, created and
// removed, leave no mount, netns, cgroup, process, state dir or veth; and
// once a lane's containers are all deleted its runtime --root is empty.
import fs from 'node:fs';
import { expect, it } from 'vitest';
import { calls, commandOf, statusOf } from '../lib.js';
import { T, eventually, type Ctx } from './scenario.js';
import type { Pod } from './env.js';

const PODS = 10;

export function lifecycleScenarios(ctx: Ctx): void {
  it(
    `${PODS} pods at once, each with a container, created and removed: nothing left behind`,
    async () => {
      const env = ctx.env();
      const pods: Pod[] = [];
      try {
        const started = await Promise.all(
          Array.from({ length: PODS }, async (_, i) => {
            const pod = await env.runPod(ctx.lane.name, `many${i}`);
            pods.push(pod);
            const c = await env.startContainer(pod, 'c', ['sh', '-c', 'echo up; exec sleep 1000']);
            return { pod, c };
          }),
        );
        const ips = await Promise.all(started.map(async ({ pod }) => (await env.cri.podSandboxStatus(pod.id)).status.network.ip as string));
        expect(new Set(ips).size).toBe(PODS);
        expect(env.veths().length).toBeGreaterThanOrEqual(PODS);
        for (const { c } of started) expect((await env.cri.containerStatus(c.id)).state).toBe('CONTAINER_RUNNING');
        const left = await Promise.all(pods.splice(0).map((p) => env.removePod(p)));
        expect(left.flat()).toEqual([]);
      } finally {
        await Promise.all(pods.map((p) => env.removePod(p).catch(() => [])));
      }
      const lanes = [ctx.lane.name];
      const empty = (l: Record<string, string[]>) => Object.values(l).every((v) => v.length === 0);
      // the shims exit on their own once their last task is deleted
      await eventually(() => empty(env.leftovers(lanes)), 10_000, 200);
      const want = Object.fromEntries(Object.keys(env.leftovers(lanes)).map((k) => [k, []]));
      expect(env.leftovers(lanes)).toEqual(want);
    },
    T * 2,
  );

  it(
    "with every container deleted, the runtime's --root (the shim's Root option + namespace) is empty, as runc leaves it; every runtime call of the lane exited 0",
    async () => {
      const env = ctx.env();
      for (const p of await env.cri.listPodSandbox({ label_selector: { lane: ctx.lane.name } })) {
        await env.cri.stopPodSandbox(p.id as string);
        await env.cri.removePodSandbox(p.id as string);
      }
      const root = env.runtimeRoot(ctx.lane.name);
      expect(fs.existsSync(root)).toBe(true);
      expect(fs.readdirSync(root)).toEqual([]);
      const seen = calls(env.callLog(ctx.lane.name));
      const cmds = new Set(seen.map(commandOf));
      for (const c of ['create', 'start', 'exec', 'kill', 'delete', 'update']) expect(cmds).toContain(c);
      // the one failure is the ExecSync of a missing program (basic.ts): runc exits 255 for it
      const failed = seen.filter((s) => statusOf(s) !== 0).map((s) => `${commandOf(s)} => ${statusOf(s)}`);
      expect(failed).toEqual(['exec => 255']);
    },
    T,
  );
}
