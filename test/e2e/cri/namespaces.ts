// CRI scenarios of namespaces and mounts: host network, PID and IPC pods,
// a pod sharing one PID namespace (shareProcessNamespace) and how its
// containers end, host path volumes with each mount propagation.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { run, unmountUnder } from '../lib.js';
import { T, alive, callsFor, cgroupDir, eventually, nsOf, parseMountinfo, withPod, type Ctx } from './scenario.js';

const SLEEP = ['sleep', '1000'];
const NODE = 'NODE';
const POD = 'POD';

export function namespaceScenarios(ctx: Ctx): void {
  it(
    "host network pod: the host's network namespace, no CNI address, the host's hostname",
    async () => {
      const env = ctx.env();
      const veths = env.veths().length;
      const security = { namespace_options: { network: NODE, pid: 'CONTAINER', ipc: POD } };
      await withPod(ctx, 'hostnet', { security }, async (pod) => {
        const st = await env.cri.podSandboxStatus(pod.id);
        expect(st.status.network?.ip ?? '').toBe('');
        expect(env.veths().length).toBe(veths);
        const c = await env.startContainer(pod, 'net', SLEEP, { security: { namespace_options: security.namespace_options } });
        expect(nsOf(c.pid, 'net')).toBe(nsOf('self', 'net'));
        expect(nsOf(c.pid, 'pid')).not.toBe(nsOf('self', 'pid'));
        const r = await env.cri.execSync(c.id, ['sh', '-c', 'ip -o link show lo >/dev/null && ls /sys/class/net; hostname']);
        expect(r.stdout).toContain(`${env.bridge}\n`);
        expect(r.stdout.trim().split('\n').at(-1)).toBe(fs.readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
      });
    },
    T,
  );

  it(
    "host PID pod: the host's PID namespace, the host's processes visible",
    async () => {
      const env = ctx.env();
      const security = { namespace_options: { network: POD, pid: NODE, ipc: POD } };
      await withPod(ctx, 'hostpid', { security }, async (pod) => {
        const c = await env.startContainer(pod, 'pid', SLEEP, { security: { namespace_options: security.namespace_options } });
        expect(nsOf(c.pid, 'pid')).toBe(nsOf('self', 'pid'));
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          `echo $$ > /dev/null; test -d /proc/${process.pid} && echo sees-test; cat /proc/${c.pid}/cmdline | tr '\\0' ' '`,
        ]);
        expect(r.stdout).toBe('sees-test\nsleep 1000 ');
      });
    },
    T,
  );

  it(
    "host IPC pod: the host's IPC namespace (a SysV segment made on the host is seen)",
    async () => {
      const env = ctx.env();
      const security = { namespace_options: { network: POD, pid: 'CONTAINER', ipc: NODE } };
      await withPod(ctx, 'hostipc', { security }, async (pod) => {
        const c = await env.startContainer(pod, 'ipc', SLEEP, { security: { namespace_options: security.namespace_options } });
        expect(nsOf(c.pid, 'ipc')).toBe(nsOf('self', 'ipc'));
        const sandbox = await env.sandboxPid(pod);
        expect(nsOf(sandbox, 'ipc')).toBe(nsOf('self', 'ipc'));
        // a segment made here, on the host: the container sees it, and every other the host has, by key
        // and id (the creator's pid reads 0 from the container's own pid namespace)
        const made = /(\d+)/.exec(run('ipcmk', ['-M', '4096']).stdout)?.[1];
        expect(made).toBeDefined();
        try {
          const segments = (table: string) =>
            table
              .trim()
              .split('\n')
              .slice(1)
              .map((line) => line.trim().split(/\s+/).slice(0, 2).join(' '));
          const r = await env.cri.execSync(c.id, ['cat', '/proc/sysvipc/shm']);
          const seen = segments(r.stdout);
          expect(seen.some((k) => k.split(' ')[1] === made)).toBe(true);
          expect(seen).toEqual(segments(fs.readFileSync('/proc/sysvipc/shm', 'utf8')));
        } finally {
          run('ipcrm', ['-m', made!]);
        }
        // the pod's own IPC namespace otherwise: /dev/shm is the sandbox's
        expect(nsOf(c.pid, 'uts')).toBe(nsOf(sandbox, 'uts'));
      });
    },
    T,
  );

  it(
    'shareProcessNamespace (pid POD): the containers and the pause process in one PID namespace, pause as pid 1',
    async () => {
      const env = ctx.env();
      const security = { namespace_options: { network: POD, pid: POD, ipc: POD } };
      await withPod(ctx, 'sharepid', { security }, async (pod) => {
        const a = await env.startContainer(pod, 'a', ['sleep', '1001'], { security: { namespace_options: security.namespace_options } });
        const b = await env.startContainer(pod, 'b', ['sleep', '1002'], { security: { namespace_options: security.namespace_options } });
        const sandbox = await env.sandboxPid(pod);
        expect(nsOf(a.pid, 'pid')).toBe(nsOf(sandbox, 'pid'));
        expect(nsOf(b.pid, 'pid')).toBe(nsOf(sandbox, 'pid'));
        const r = await env.cri.execSync(a.id, [
          'sh',
          '-c',
          'cat /proc/1/cmdline | tr "\\0" " "; echo; ps -o args | grep -c "^sleep 100[12]"',
        ]);
        expect(r.stdout).toBe('/bin/sh /pause \n2\n');
        // the mount namespaces stay apart
        expect(nsOf(a.pid, 'mnt')).not.toBe(nsOf(b.pid, 'mnt'));
      });
    },
    T,
  );

  it(
    "shared PID namespace: when a container's init ends, the shim's `kill --all ID 9` exits 0 and ends what is left in its cgroup; StopPodSandbox ends the rest",
    async () => {
      const env = ctx.env();
      const security = { namespace_options: { network: POD, pid: POD, ipc: POD } };
      const ns = { security: { namespace_options: security.namespace_options } };
      await withPod(ctx, 'killall', { security }, async (pod) => {
        const script = ['sh', '-c', 'sleep 2001 & sleep 2002 & exec sleep 2003'];
        const a = await env.startContainer(pod, 'a', script, ns);
        const b = await env.startContainer(pod, 'b', script, ns);
        const procs = (pid: number) =>
          fs
            .readFileSync(path.join(cgroupDir(pid, 'pids'), 'cgroup.procs'), 'utf8')
            .split('\n')
            .filter(Boolean)
            .map(Number);
        expect(await eventually(() => procs(a.pid).length === 3 && procs(b.pid).length === 3, 5_000)).toBe(true);
        const aProcs = procs(a.pid);
        const bProcs = procs(b.pid);
        const sandbox = await env.sandboxPid(pod);

        // StopContainer kills a's init; its two children are in no pid namespace of their own
        await env.cri.stopContainer(a.id, 0);
        expect(await eventually(() => aProcs.every((p) => !alive(p)), 10_000)).toBe(true);
        expect(alive(sandbox)).toBe(true);
        expect(bProcs.every(alive)).toBe(true);
        const killAll = (id: string) => callsFor(ctx, id).filter((x) => x.cmd === 'kill' && / --all /.test(x.line));
        expect(await eventually(() => killAll(a.id).length > 0, 5_000)).toBe(true);
        expect(killAll(a.id).map((x) => [x.line.split(' => ')[0].replace(/^.* kill /, 'kill '), x.status])).toContainEqual([
          `kill --all ${a.id} 9`,
          0,
        ]);

        await env.cri.stopPodSandbox(pod.id);
        expect(await eventually(() => [...bProcs, sandbox].every((p) => !alive(p)), 10_000)).toBe(true);
        expect(killAll(b.id).every((x) => x.status === 0)).toBe(true);
        expect((await env.cri.containerStatus(b.id)).state).toBe('CONTAINER_EXITED');
      });
    },
    T,
  );

  it(
    "host path mounts: PROPAGATION_PRIVATE sees no later host mount, HOST_TO_CONTAINER does, BIDIRECTIONAL also sends the container's mounts to the host",
    async () => {
      const env = ctx.env();
      // the volumes' source: a shared mount, as the kubelet's /var/lib/kubelet is on a node
      const host = path.join(env.dir, `volumes-${ctx.lane.name}`);
      const mk = (...a: string[]) => {
        const r = run(a[0], a.slice(1));
        expect(r.status, `${a.join(' ')}: ${r.stderr}`).toBe(0);
      };
      fs.mkdirSync(host, { recursive: true });
      mk('mount', '-t', 'tmpfs', 'tcr-e2e-vol', host);
      try {
        mk('mount', '--make-shared', host);
        for (const d of ['private', 'h2c', 'bidi']) fs.mkdirSync(path.join(host, d, 'sub'), { recursive: true });
        const mounts = [
          { container_path: '/vol/private', host_path: path.join(host, 'private'), propagation: 'PROPAGATION_PRIVATE' },
          { container_path: '/vol/h2c', host_path: path.join(host, 'h2c'), propagation: 'PROPAGATION_HOST_TO_CONTAINER' },
          { container_path: '/vol/bidi', host_path: path.join(host, 'bidi'), propagation: 'PROPAGATION_BIDIRECTIONAL' },
        ];
        await withPod(ctx, 'volumes', { security: { privileged: true } }, async (pod) => {
          const c = await env.startContainer(pod, 'vol', SLEEP, { mounts, security: { privileged: true } });
          const info = () => parseMountinfo(fs.readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8'));
          const at = (p: string) => info().find((m) => m.point === p);
          // how the volumes relate to the host's peer group (a private one may be shared within the container,
          // as after runc 1.4's recursive rootfsPropagation, but never with the host: the behaviour below)
          expect(at('/vol/h2c')!.optional.some((o) => o.startsWith('master:'))).toBe(true);
          expect(at('/vol/bidi')!.optional.some((o) => o.startsWith('shared:'))).toBe(true);

          for (const d of ['private', 'h2c', 'bidi']) mk('mount', '-t', 'tmpfs', `tcr-e2e-${d}`, path.join(host, d, 'sub'));
          await eventually(() => !!at('/vol/h2c/sub'), 2_000);
          expect(!!at('/vol/private/sub')).toBe(false);
          expect(at('/vol/h2c/sub')?.fstype).toBe('tmpfs');
          expect(at('/vol/bidi/sub')?.fstype).toBe('tmpfs');

          const r = await env.cri.execSync(c.id, [
            'sh',
            '-c',
            'for d in private h2c bidi; do mkdir -p /vol/$d/from-ctr && mount -t tmpfs ctr-$d /vol/$d/from-ctr || exit 1; done; echo ok',
          ]);
          expect(r.stdout).toBe('ok\n');
          const hostMounts = () => parseMountinfo(fs.readFileSync('/proc/self/mountinfo', 'utf8')).map((m) => m.point);
          expect(hostMounts()).toContain(path.join(host, 'bidi', 'from-ctr'));
          expect(hostMounts()).not.toContain(path.join(host, 'h2c', 'from-ctr'));
          expect(hostMounts()).not.toContain(path.join(host, 'private', 'from-ctr'));
        });
      } finally {
        unmountUnder(host);
        run('umount', ['-l', host]);
      }
    },
    T,
  );
}
