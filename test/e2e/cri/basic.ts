// CRI scenarios of a container's life: the pod's network and DNS, create /
// start / stop / remove, exit codes and OOMKilled, CRI logs, ExecSync, HOME.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { expect, it } from 'vitest';
import { T, callsFor, eventually, nsOf, withPod, type Ctx } from './scenario.js';

const LOOP = ['sh', '-c', 'trap "exit 42" TERM; while :; do sleep 0.1; done'];

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
  });
}

export function basicScenarios(ctx: Ctx): void {
  it(
    'RunPodSandbox: the pod gets an IP on the bridge subnet, reachable from the host; hostname and DNS config in the container',
    async () => {
      const env = ctx.env();
      const dns = {
        servers: ['10.96.0.10', '10.96.0.11'],
        searches: ['e2e.svc.cluster.local', 'svc.cluster.local'],
        options: ['ndots:5', 'timeout:1'],
      };
      await withPod(ctx, 'net', { hostname: 'web-0', dns }, async (pod) => {
        const st = await env.cri.podSandboxStatus(pod.id);
        expect(st.status.state).toBe('SANDBOX_READY');
        const ip = st.status.network.ip as string;
        expect(ip.startsWith(`${env.prefix}.`)).toBe(true);
        expect(env.veths().length).toBeGreaterThanOrEqual(1);
        const c = await env.startContainer(pod, 'web', [
          'sh',
          '-c',
          'mkdir -p /www && echo "pod $(hostname) says hi" > /www/index.html && exec httpd -f -p 8080 -h /www',
        ]);
        // the pause process holds the netns the CNI plugin configured; the container joined it
        expect(nsOf(c.pid, 'net')).toBe(nsOf(await env.sandboxPid(pod), 'net'));
        expect(nsOf(c.pid, 'net')).not.toBe(nsOf('self', 'net'));
        let body = '';
        expect(await eventually(async () => (body = await httpGet(`http://${ip}:8080/index.html`).catch(() => '')) !== '', 10_000)).toBe(
          true,
        );
        expect(body).toBe('pod web-0 says hi\n');
        const r = await env.cri.execSync(c.id, ['sh', '-c', 'ip -4 -o addr show eth0; cat /etc/resolv.conf; hostname; cat /etc/hostname']);
        expect(r.exit_code).toBe(0);
        expect(r.stdout).toContain(`inet ${ip}/24`);
        expect(r.stdout).toContain('nameserver 10.96.0.10\nnameserver 10.96.0.11\n');
        expect(r.stdout).toContain('search e2e.svc.cluster.local svc.cluster.local\n');
        expect(r.stdout).toContain('options ndots:5 timeout:1\n');
        expect(r.stdout.endsWith('web-0\nweb-0\n')).toBe(true);
      });
    },
    T,
  );

  it(
    'CreateContainer, StartContainer, StopContainer (TERM, then KILL past the grace period), RemoveContainer; ContainerStatus exit codes',
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'life', {}, async (pod) => {
        const created = await env.createContainer(pod, 'seven', ['sh', '-c', 'exit 7']);
        expect((await env.cri.containerStatus(created)).state).toBe('CONTAINER_CREATED');
        await env.cri.startContainer(created);
        expect(await env.waitState(created, 'CONTAINER_EXITED')).toBe('CONTAINER_EXITED');
        const seven = await env.cri.containerStatus(created);
        expect(seven.exit_code).toBe(7);
        expect(seven.reason).toBe('Error');
        expect(seven.finished_at).toBeGreaterThan(0);

        const term = await env.startContainer(pod, 'term', LOOP);
        await env.cri.stopContainer(term.id, 10);
        const t = await env.cri.containerStatus(term.id);
        expect([t.state, t.exit_code]).toEqual(['CONTAINER_EXITED', 42]);

        const stubborn = await env.startContainer(pod, 'stubborn', ['sh', '-c', 'trap "" TERM; while :; do sleep 0.1; done']);
        const before = Date.now();
        await env.cri.stopContainer(stubborn.id, 1);
        expect(Date.now() - before).toBeGreaterThanOrEqual(900);
        const s = await env.cri.containerStatus(stubborn.id);
        expect([s.state, s.exit_code]).toEqual(['CONTAINER_EXITED', 137]);

        for (const id of [created, term.id, stubborn.id]) await env.cri.removeContainer(id);
        const left = (await env.cri.listContainers({ pod_sandbox_id: pod.id })).map((c) => c.id);
        expect(left).toEqual([]);
        // the runtime was driven through its whole lifecycle, every call a success
        const cmds = callsFor(ctx, term.id);
        for (const c of ['create', 'start', 'kill', 'delete']) expect(cmds.map((x) => x.cmd)).toContain(c);
        expect(cmds.filter((x) => x.status !== 0).map((x) => x.line)).toEqual([]);
      });
    },
    T,
  );

  it(
    'ContainerStatus: reason OOMKilled, exit code 137, for a container over its memory limit (v1 memory cgroup)',
    async () => {
      const env = ctx.env();
      // the shim watches the OOM event through containerd's cgroup library, which needs every hierarchy mounted
      await env.withAllHierarchies(() =>
        withPod(ctx, 'oom', {}, async (pod) => {
          const limit = 32 << 20;
          const id = await env.createContainer(
            pod,
            'hog',
            ['sh', '-c', 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; exec dd if=/dev/zero of=/dev/null bs=96M count=1'],
            {
              resources: { memory_limit_in_bytes: limit },
            },
          );
          await env.cri.startContainer(id);
          expect(await env.waitState(id, 'CONTAINER_EXITED', 30_000)).toBe('CONTAINER_EXITED');
          // the shim's OOM event and its exit event travel apart: the reason may follow the exit
          let st = await env.cri.containerStatus(id);
          await eventually(async () => (st = await env.cri.containerStatus(id)).reason === 'OOMKilled', 10_000);
          expect([st.exit_code, st.reason]).toEqual([137, 'OOMKilled']);
          // what the process saw as its limit
          expect(fs.readFileSync(env.logFile(pod, 'hog'), 'utf8')).toMatch(new RegExp(` stdout F ${limit}\\n`));
        }),
      );
    },
    T,
  );

  it(
    'container logs in the CRI format: TIMESTAMP STREAM F|P LINE, stdout and stderr apart, in order',
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'logs', {}, async (pod) => {
        const long = 'x'.repeat(20_000);
        const id = await env.createContainer(pod, 'talk', [
          'sh',
          '-c',
          `echo out1; echo err1 >&2; echo "two words"; echo ${long}; echo err2 >&2`,
        ]);
        await env.cri.startContainer(id);
        expect(await env.waitState(id, 'CONTAINER_EXITED')).toBe('CONTAINER_EXITED');
        const file = env.logFile(pod, 'talk');
        expect((await env.cri.containerStatus(id)).log_path).toBe(file);
        // containerd closes the log once both streams ended: wait for the last line
        await eventually(() => fs.readFileSync(file, 'utf8').includes('err2'), 5_000);
        const entries = fs
          .readFileSync(file, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => {
            const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$/.exec(l);
            expect(m, l.slice(0, 120)).not.toBeNull();
            return { t: Date.parse(m![1]), stream: m![2], tag: m![3], text: m![4] };
          });
        const of = (s: string) => entries.filter((e) => e.stream === s);
        expect(of('stderr').map((e) => `${e.tag} ${e.text}`)).toEqual(['F err1', 'F err2']);
        const out = of('stdout');
        expect(out.slice(0, 2).map((e) => `${e.tag} ${e.text}`)).toEqual(['F out1', 'F two words']);
        // a line past the daemon's 16 KiB maximum is split: partial pieces, then the full mark
        const rest = out.slice(2);
        expect(rest.length).toBeGreaterThanOrEqual(2);
        expect(rest.slice(0, -1).every((e) => e.tag === 'P')).toBe(true);
        expect(rest.at(-1)!.tag).toBe('F');
        expect(rest.map((e) => e.text).join('')).toBe(long);
        for (let i = 1; i < entries.length; i++) expect(Number.isNaN(entries[i].t)).toBe(false);
      });
    },
    T,
  );

  it(
    "ExecSync: stdout, stderr and exit code, in the container's namespaces; a timeout ends the exec",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'exec', {}, async (pod) => {
        const c = await env.startContainer(pod, 'box', LOOP);
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          'echo to-out; echo to-err >&2; readlink /proc/self/ns/pid; readlink /proc/self/ns/mnt; exit 5',
        ]);
        expect(r.exit_code).toBe(5);
        expect(r.stderr).toBe('to-err\n');
        expect(r.stdout).toBe(`to-out\n${nsOf(c.pid, 'pid')}\n${nsOf(c.pid, 'mnt')}\n`);
        expect((await env.cri.execSync(c.id, ['true'])).exit_code).toBe(0);
        const missing = await env.cri.execSync(c.id, ['/no/such/program']).catch((e: Error) => e);
        // runc and the shim report a missing program either as an error or as exit 127/126
        if (!(missing instanceof Error)) expect(missing.exit_code).not.toBe(0);

        const before = Date.now();
        const timedOut = await env.cri.execSync(c.id, ['sleep', '30'], 1).catch((e: Error) => e);
        expect(timedOut).toBeInstanceOf(Error);
        expect((timedOut as Error).message).toMatch(/timeout|deadline/i);
        expect(Date.now() - before).toBeLessThan(15_000);
        // the timed-out exec is gone from the container
        const ps = async () => (await env.cri.execSync(c.id, ['ps', '-o', 'args'])).stdout;
        expect(await eventually(async () => !(await ps()).includes('sleep 30'), 10_000)).toBe(true);
        expect(callsFor(ctx, c.id).filter((x) => x.cmd === 'exec').length).toBeGreaterThanOrEqual(4);
      });
    },
    T,
  );

  it(
    "environment without HOME: HOME is /root for uid 0 and the passwd home for another user (from the rootfs' /etc/passwd); an explicit HOME wins",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'home', {}, async (pod) => {
        const show = ['sh', '-c', 'echo "HOME=$HOME"; exec sleep 1000'];
        const root = await env.startContainer(pod, 'root', show);
        const nobody = await env.startContainer(pod, 'nobody', show, { security: { run_as_user: { value: 65534 } } });
        const set = await env.startContainer(pod, 'set', show, { env: { HOME: '/work' } });
        const homeOf = (pid: number) =>
          fs
            .readFileSync(`/proc/${pid}/environ`, 'utf8')
            .split('\0')
            .filter((e) => e.startsWith('HOME='));
        expect(homeOf(root.pid)).toEqual(['HOME=/root']);
        expect(homeOf(nobody.pid)).toEqual(['HOME=/home']);
        expect(homeOf(set.pid)).toEqual(['HOME=/work']);
        // an exec gets it too
        expect((await env.cri.execSync(root.id, ['sh', '-c', 'echo $HOME'])).stdout).toBe('/root\n');
        await eventually(() => fs.readFileSync(env.logFile(pod, 'root'), 'utf8').includes('HOME='), 5_000);
        expect(fs.readFileSync(env.logFile(pod, 'root'), 'utf8')).toContain('stdout F HOME=/root\n');
        expect(path.isAbsolute(env.logFile(pod, 'root'))).toBe(true);
      });
    },
    T,
  );
}
