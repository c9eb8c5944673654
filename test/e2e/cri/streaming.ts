// CRI scenarios through the streaming server (Exec, Attach) and the cgroup
// (UpdateContainerResources, ContainerStats, ListContainerStats).
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { runStream, Stream } from './stream.js';
import { T, callsFor, cgroupDir, withPod, type Ctx } from './scenario.js';

const LOOP = ['sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done'];

export function streamingScenarios(ctx: Ctx): void {
  it(
    'Exec through the streaming server (websocket, v4.channel.k8s.io): stdout, stderr, exit code; stdin; a terminal',
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'stream', {}, async (pod) => {
        const c = await env.startContainer(pod, 'box', LOOP);
        const url = await env.cri.exec({
          container_id: c.id,
          cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
          stdout: true,
          stderr: true,
        });
        expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/exec\//);
        const s = await runStream(url);
        expect(s.protocol).toBe('v4.channel.k8s.io');
        expect([s.stdout, s.stderr, s.exitCode()]).toEqual(['out\n', 'err\n', 3]);

        const ok = await runStream(await env.cri.exec({ container_id: c.id, cmd: ['true'], stdout: true, stderr: true }));
        expect(ok.exitCode()).toBe(0);
        expect(ok.status?.status).toBe('Success');

        const input = await runStream(
          await env.cri.exec({
            container_id: c.id,
            cmd: ['sh', '-c', 'read a; read b; echo "got $a and $b"'],
            stdin: true,
            stdout: true,
            stderr: true,
          }),
          'one\ntwo\n',
        );
        expect([input.stdout, input.exitCode()]).toEqual(['got one and two\n', 0]);

        // with a terminal there is no stderr channel: both streams come through the pty
        const tty = await runStream(
          await env.cri.exec({
            container_id: c.id,
            cmd: ['sh', '-c', 'tty; test -t 0 && test -t 1 && echo isatty; echo e >&2'],
            tty: true,
            stdin: true,
            stdout: true,
          }),
        );
        expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r\nisatty\r\ne\r\n$/);
        expect(tty.exitCode()).toBe(0);
      });
    },
    T,
  );

  it(
    "Attach through the streaming server: the container's stdin and stdout, live",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'attach', {}, async (pod) => {
        const c = await env.startContainer(
          pod,
          'echo',
          ['sh', '-c', 'echo ready; while read l; do echo "echo:$l"; echo "err:$l" >&2; done; echo bye'],
          { stdin: true },
        );
        const url = await env.cri.attach({ container_id: c.id, stdin: true, stdout: true, stderr: true });
        expect(url).toMatch(/\/attach\//);
        const s = new Stream(url);
        await s.open();
        await s.send('hello\n');
        expect(await s.until((x) => x.stdout.includes('echo:hello') && x.stderr.includes('err:hello'))).toBe(true);
        await s.send('again\n');
        expect(await s.until((x) => x.stdout.includes('echo:again'))).toBe(true);
        s.close();
        await s.closed;
        // what went through attach is in the log as well
        expect(fs.readFileSync(env.logFile(pod, 'echo'), 'utf8')).toMatch(/stdout F echo:hello\n/);
        expect((await env.cri.containerStatus(c.id)).state).toBe('CONTAINER_RUNNING');
      });
    },
    T,
  );

  it(
    "UpdateContainerResources: the runtime's update rewrites the container's cgroup (memory, CPU quota and shares, pids)",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'update', {}, async (pod) => {
        const c = await env.startContainer(pod, 'box', LOOP, {
          resources: { memory_limit_in_bytes: 64 << 20, cpu_period: 100_000, cpu_quota: 50_000, cpu_shares: 256 },
        });
        const inside = async () =>
          (
            await env.cri.execSync(c.id, [
              'sh',
              '-c',
              'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us /sys/fs/cgroup/cpu/cpu.shares',
            ])
          ).stdout
            .split('\n')
            .filter(Boolean);
        expect(await inside()).toEqual([String(64 << 20), '50000', '100000', '256']);
        await env.cri.updateContainerResources(c.id, {
          memory_limit_in_bytes: 128 << 20,
          cpu_period: 100_000,
          cpu_quota: 20_000,
          cpu_shares: 512,
        });
        expect(await inside()).toEqual([String(128 << 20), '20000', '100000', '512']);
        // the same files as the host sees them, in the cgroup the runtime made
        expect(fs.readFileSync(path.join(cgroupDir(c.pid, 'memory'), 'memory.limit_in_bytes'), 'utf8').trim()).toBe(String(128 << 20));
        expect(fs.readFileSync(path.join(cgroupDir(c.pid, 'cpu'), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
        const updates = callsFor(ctx, c.id).filter((x) => x.cmd === 'update');
        expect(updates.length).toBe(1);
        expect(updates[0].status).toBe(0);
        expect(updates[0].line).toMatch(/ update --resources - /);
        // the daemon's record of the container follows
        const spec = (await env.cri.containerInfo(c.id)).runtimeSpec;
        expect(spec.linux.resources.memory.limit).toBe(128 << 20);
      });
    },
    T,
  );

  it(
    "ContainerStats and ListContainerStats: CPU and memory from the container's cgroup, the writable layer",
    async () => {
      const env = ctx.env();
      // the shim reads the metrics through containerd's cgroup library, which needs every hierarchy mounted
      await env.withAllHierarchies(() =>
        withPod(ctx, 'stats', {}, async (pod) => {
          // some CPU time and some memory of its own before the numbers are read
          const c = await env.startContainer(pod, 'busy', [
            'sh',
            '-c',
            'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; dd if=/dev/zero of=/tmp/f bs=1M count=4 2>/dev/null; echo done; exec sleep 1000',
          ]);
          let stats = await env.cri.containerStats(c.id);
          for (let i = 0; i < 50 && !fs.readFileSync(env.logFile(pod, 'busy'), 'utf8').includes('done'); i++)
            await new Promise((r) => setTimeout(r, 100));
          stats = await env.cri.containerStats(c.id);
          expect(stats.attributes.id).toBe(c.id);
          expect(stats.attributes.metadata.name).toBe('busy');
          expect(Number(stats.cpu.usage_core_nano_seconds.value)).toBeGreaterThan(0);
          expect(Number(stats.memory.working_set_bytes.value)).toBeGreaterThan(0);
          const usage = Number(fs.readFileSync(path.join(cgroupDir(c.pid, 'memory'), 'memory.usage_in_bytes'), 'utf8'));
          expect(Number(stats.memory.usage_bytes?.value ?? stats.memory.working_set_bytes.value)).toBeLessThanOrEqual(usage * 4);
          expect(stats.writable_layer.fs_id.mountpoint).toBeTruthy();
          const list = await env.cri.listContainerStats({ pod_sandbox_id: pod.id });
          expect(list.map((s) => s.attributes.id)).toEqual([c.id]);
          const all = await env.cri.listContainerStats();
          expect(all.map((s) => s.attributes.id)).toContain(c.id);
        }),
      );
    },
    T,
  );
}
