// CRI security contexts as the kubelet sends them (pod and container
// level), checked in what the container's processes see: credentials,
// capabilities, seccomp, no_new_privs, the root's and /proc's mounts, sysctls.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { DEFAULT_CAPS, T, capMask, parseMountinfo, procStatus, statusFields, withPod, type Ctx } from './scenario.js';

const SLEEP = ['sleep', '1000'];
// the kubelet's defaults (k8s.io/kubernetes pkg/securitycontext, procMount Default)
const KUBELET_MASKED = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
];
const KUBELET_READONLY = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export function securityScenarios(ctx: Ctx): void {
  it(
    "runAsUser, runAsGroup, supplementalGroups: the init's and an exec's credentials",
    async () => {
      const env = ctx.env();
      await withPod(
        ctx,
        'ids',
        { security: { run_as_user: { value: 1000 }, run_as_group: { value: 2000 }, supplemental_groups: [3000, 4000] } },
        async (pod) => {
          const security = { run_as_user: { value: 1000 }, run_as_group: { value: 2000 }, supplemental_groups: [3000, 4000] };
          const c = await env.startContainer(pod, 'ids', SLEEP, { security });
          const st = procStatus(c.pid);
          expect(st.Uid).toBe('1000\t1000\t1000\t1000');
          expect(st.Gid).toBe('2000\t2000\t2000\t2000');
          expect(st.Groups.split(/\s+/).filter(Boolean).sort()).toEqual(['2000', '3000', '4000']);
          // a non-root user keeps no capability
          expect(st.CapEff).toBe('0000000000000000');
          const r = await env.cri.execSync(c.id, ['id']);
          expect(r.stdout).toMatch(/^uid=1000 gid=2000 groups=.*\b3000\b.*\b4000\b/);
          const ex = statusFields((await env.cri.execSync(c.id, ['cat', '/proc/self/status'])).stdout);
          expect([ex.Uid, ex.Gid, ex.Groups]).toEqual([st.Uid, st.Gid, st.Groups]);
        },
      );
    },
    T,
  );

  it(
    "readonlyRootfs: the root and the CRI's /etc files are read-only, /dev/shm and /dev stay writable",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'ro', {}, async (pod) => {
        const c = await env.startContainer(pod, 'ro', SLEEP, { security: { readonly_rootfs: true } });
        const mounts = parseMountinfo(fs.readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8'));
        for (const p of ['/', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf'])
          expect(mounts.find((m) => m.point === p)?.opts, p).toContain('ro');
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          'touch /x 2>&1; echo $?; touch /dev/shm/x && echo shm-ok; mkfifo /dev/f && echo dev-ok; echo h >> /etc/hosts || echo hosts-ro',
        ]);
        expect(r.stdout).toMatch(/Read-only file system\n1\nshm-ok\ndev-ok\nhosts-ro\n$/);
        const plain = await env.startContainer(pod, 'rw', SLEEP);
        expect(parseMountinfo(fs.readFileSync(`/proc/${plain.pid}/mountinfo`, 'utf8')).find((m) => m.point === '/')!.opts).toContain('rw');
      });
    },
    T,
  );

  it(
    "privileged: every capability of the runtime's bounding set, no seccomp filter, /sys and /proc/sys writable, the host's devices",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'priv', { security: { privileged: true } }, async (pod) => {
        const c = await env.startContainer(pod, 'priv', SLEEP, { security: { privileged: true } });
        const st = procStatus(c.pid);
        const mine = procStatus(process.pid);
        expect(st.CapEff).toBe(mine.CapBnd);
        expect(st.CapBnd).toBe(mine.CapBnd);
        expect(st.Seccomp).toBe('0');
        const mounts = parseMountinfo(fs.readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8'));
        expect(mounts.find((m) => m.point === '/sys')!.opts).toContain('rw');
        expect(mounts.some((m) => m.point === '/proc/sys')).toBe(false);
        expect(mounts.some((m) => m.point === '/proc/keys')).toBe(false);
        // a block device of the host's is there (the CRI adds the host's devices to a privileged container)
        const block = fs.readdirSync('/dev').find((d) => /^(vd|sd|nvme|xvd)[a-z0-9]+$/.test(d));
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          `mkdir -p /mnt/t && mount -t tmpfs none /mnt/t && echo mounted; ${block ? `test -b /dev/${block} && echo block;` : ''} echo 1 > /proc/sys/kernel/shm_rmid_forced && echo sysctl-ok`,
        ]);
        expect(r.stdout).toBe(`mounted\n${block ? 'block\n' : ''}sysctl-ok\n`);
      });
    },
    T,
  );

  it(
    'added and dropped capabilities: the effective, permitted and bounding sets',
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'caps', {}, async (pod) => {
        const plain = await env.startContainer(pod, 'plain', SLEEP);
        expect(procStatus(plain.pid).CapEff).toBe(capMask(DEFAULT_CAPS));
        const c = await env.startContainer(pod, 'caps', SLEEP, {
          security: { capabilities: { add_capabilities: ['NET_ADMIN', 'SYS_TIME'], drop_capabilities: ['CHOWN', 'NET_RAW'] } },
        });
        const want = capMask([...DEFAULT_CAPS.filter((n) => n !== 'CHOWN' && n !== 'NET_RAW'), 'NET_ADMIN', 'SYS_TIME']);
        const st = procStatus(c.pid);
        expect([st.CapEff, st.CapPrm, st.CapBnd, st.CapInh, st.CapAmb]).toEqual([want, want, want, '0000000000000000', '0000000000000000']);
        // what they allow: chown is refused, the network can be configured
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          'chown 1:1 /tmp 2>/dev/null || echo no-chown; ip link set lo mtu 1500 && echo net-admin',
        ]);
        expect(r.stdout).toBe('no-chown\nnet-admin\n');
        const all = await env.startContainer(pod, 'dropall', SLEEP, { security: { capabilities: { drop_capabilities: ['ALL'] } } });
        expect(procStatus(all.pid).CapBnd).toBe('0000000000000000');
      });
    },
    T,
  );

  it(
    "seccomp: RuntimeDefault filters (unshare refused), Unconfined has none, Localhost loads the host file's profile",
    async () => {
      const env = ctx.env();
      const profile = path.join(env.dir, `seccomp-${ctx.lane.name}.json`);
      fs.writeFileSync(
        profile,
        JSON.stringify({
          defaultAction: 'SCMP_ACT_ALLOW',
          architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
          syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
        }),
      );
      await withPod(ctx, 'seccomp', {}, async (pod) => {
        const probe =
          'unshare -U true 2>/dev/null && echo unshare-ok || echo unshare-refused; mkdir /tmp/d 2>/dev/null && echo mkdir-ok || echo mkdir-refused';
        const cases: [string, object, string, string][] = [
          ['default', { profile_type: 'RuntimeDefault' }, '2', 'unshare-refused\nmkdir-ok\n'],
          ['unconfined', { profile_type: 'Unconfined' }, '0', 'unshare-ok\nmkdir-ok\n'],
          ['localhost', { profile_type: 'Localhost', localhost_ref: profile }, '2', 'unshare-ok\nmkdir-refused\n'],
        ];
        for (const [name, seccomp, mode, out] of cases) {
          const c = await env.startContainer(pod, name, SLEEP, { security: { seccomp } });
          expect(procStatus(c.pid).Seccomp, name).toBe(mode);
          expect((await env.cri.execSync(c.id, ['sh', '-c', probe])).stdout, name).toBe(out);
        }
      });
    },
    T,
  );

  it(
    'noNewPrivs: NoNewPrivs 1 for the init and its execs, 0 without it',
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'nnp', {}, async (pod) => {
        const c = await env.startContainer(pod, 'nnp', SLEEP, { security: { no_new_privs: true } });
        const plain = await env.startContainer(pod, 'plain', SLEEP);
        expect(procStatus(c.pid).NoNewPrivs).toBe('1');
        expect(procStatus(plain.pid).NoNewPrivs).toBe('0');
        expect(statusFields((await env.cri.execSync(c.id, ['cat', '/proc/self/status'])).stdout).NoNewPrivs).toBe('1');
      });
    },
    T,
  );

  it(
    "sysctls of the pod: set in the pod's namespaces, the host's unchanged",
    async () => {
      const env = ctx.env();
      const host = ['kernel/shm_rmid_forced', 'net/ipv4/ping_group_range'].map((k) => fs.readFileSync(`/proc/sys/${k}`, 'utf8'));
      await withPod(
        ctx,
        'sysctl',
        { sysctls: { 'kernel.shm_rmid_forced': '1', 'net.ipv4.ping_group_range': '0 2147483647' } },
        async (pod) => {
          const c = await env.startContainer(pod, 'sysctl', SLEEP);
          const r = await env.cri.execSync(c.id, ['cat', '/proc/sys/kernel/shm_rmid_forced', '/proc/sys/net/ipv4/ping_group_range']);
          expect(r.stdout.split(/\s+/).filter(Boolean)).toEqual(['1', '0', '2147483647']);
        },
      );
      expect(['kernel/shm_rmid_forced', 'net/ipv4/ping_group_range'].map((k) => fs.readFileSync(`/proc/sys/${k}`, 'utf8'))).toEqual(host);
    },
    T,
  );

  it(
    "maskedPaths and readonlyPaths: the kubelet's lists replace the defaults; without them the defaults hold",
    async () => {
      const env = ctx.env();
      await withPod(ctx, 'paths', {}, async (pod) => {
        const c = await env.startContainer(pod, 'paths', SLEEP, {
          // paths this kernel has (no /proc/kcore here), and one the image lacks: skipped, as runc skips it
          security: {
            masked_paths: ['/proc/timer_list', '/proc/irq', '/proc/acpi', '/no/such/path'],
            readonly_paths: ['/proc/sys', '/proc/bus', '/tmp'],
          },
        });
        const r = await env.cri.execSync(c.id, [
          'sh',
          '-c',
          'wc -c < /proc/timer_list; ls -A /proc/irq | wc -l; ls -A /proc/acpi | wc -l; touch /tmp/x 2>/dev/null || echo tmp-ro; echo 1 > /proc/sys/kernel/shm_rmid_forced 2>/dev/null || echo sys-ro; touch /root/x && echo root-rw',
        ]);
        expect(
          r.stdout
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        ).toEqual(['0', '0', '0', 'tmp-ro', 'sys-ro', 'root-rw']);
        const mounts = parseMountinfo(fs.readFileSync(`/proc/${c.pid}/mountinfo`, 'utf8'));
        for (const p of ['/proc/sys', '/proc/bus', '/tmp']) expect(mounts.find((m) => m.point === p)?.opts, p).toContain('ro');
        expect(mounts.find((m) => m.point === '/proc/irq')?.fstype).toBe('tmpfs');
        // a default masked path the list left out is not masked
        expect(mounts.some((m) => m.point === '/proc/keys')).toBe(false);

        // the lists the kubelet sends for procMount Default (containerd 1.6 masks nothing when given none)
        const d = await env.startContainer(pod, 'defaults', SLEEP, {
          security: { masked_paths: KUBELET_MASKED, readonly_paths: KUBELET_READONLY },
        });
        const dm = parseMountinfo(fs.readFileSync(`/proc/${d.pid}/mountinfo`, 'utf8'));
        for (const p of [...KUBELET_MASKED, ...KUBELET_READONLY].filter((p) => fs.existsSync(p)))
          expect(
            dm.some((m) => m.point === p),
            p,
          ).toBe(true);
        for (const p of KUBELET_READONLY.filter((p) => fs.existsSync(p))) expect(dm.find((m) => m.point === p)?.opts, p).toContain('ro');
        expect(dm.find((m) => m.point === '/proc/sys')?.opts).toContain('ro');
      });
    },
    T,
  );
}
