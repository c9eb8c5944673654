// Namespaces as the process sees them: its own pid, uts, ipc, mount and
// network namespaces (only lo, up), a user namespace with id mappings,
// joining another container's namespace by path, cgroup and time namespaces.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, mountsUnder, type Result, lacks } from '../helpers.js';
import { createContainer, expectNothingLeft, runDetached, shBundle, state, uniqueId, waitFor } from './lib.js';

function hostNs(name: string): string {
  return fs.readlinkSync(`/proc/self/ns/${name}`);
}

/** "key=value" lines of a container's output as a map. */
function kv(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m[line.slice(0, i)] = line.slice(i + 1);
  }
  return m;
}

const hasTimeNs = fs.existsSync('/proc/self/ns/time');

describe.skipIf(lacks(isRoot))('namespaces (root, real kernel)', () => {
  const sb = new Sandbox('tcr-ns');
  afterAll(() => sb.cleanup());

  describe('the demo namespaces (pid, network, ipc, uts, mount)', () => {
    let r: Result;
    let v: Record<string, string>;
    beforeAll(() => {
      r = sb.run(
        [
          'echo pid=$$',
          'echo ps=$(ps -o pid= 2>/dev/null | tr -d " " | tr "\\n" ,)',
          'echo hostname=$(hostname)',
          'echo domainname=$(cat /proc/sys/kernel/domainname)',
          'for n in ipc uts mnt net pid user cgroup; do echo ns_$n=$(readlink /proc/self/ns/$n); done',
          'echo netdev=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " " | tr "\\n" ,)',
          'echo sysnet=$(ls /sys/class/net | tr "\\n" ,)',
          'echo loflags=$(cat /sys/class/net/lo/flags)',
          'echo iplink=$(ip link show lo | head -n 1)',
          'ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1; echo ping=$?',
        ].join('; '),
        (s) => {
          s.hostname = 'tcr-ns-host';
          s.domainname = 'example.org';
          // ping needs a raw socket
          const caps = s.process!.capabilities!;
          for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), 'CAP_NET_RAW'];
        },
      );
      v = kv(r.stdout);
    });

    it('runs successfully', () => {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    });

    it('the process is pid 1 and sees only its own processes', () => {
      expect(v.pid).toBe('1');
      // sh (1) and ps itself, run in a subshell: nothing of the host
      for (const p of v.ps.split(',').filter(Boolean)) expect(Number(p)).toBeLessThan(10);
    });

    it('has the configured hostname and domainname', () => {
      expect(v.hostname).toBe('tcr-ns-host');
      expect(v.domainname).toBe('example.org');
    });

    it("lives in its own ipc, uts, mount, network and pid namespaces, and the host's user and cgroup namespaces", () => {
      for (const n of ['ipc', 'uts', 'mnt', 'net', 'pid']) {
        expect(v[`ns_${n}`], n).toMatch(new RegExp(`^${n}:\\[\\d+\\]$`));
        expect(v[`ns_${n}`], n).not.toBe(hostNs(n));
      }
      expect(v.ns_user).toBe(hostNs('user'));
      expect(v.ns_cgroup).toBe(hostNs('cgroup'));
    });

    it('has a network namespace with only lo, and lo is up', () => {
      expect(v.netdev).toBe('lo,');
      expect(v.sysnet).toBe('lo,');
      expect(Number(v.loflags) & 1).toBe(1); // IFF_UP
      expect(v.iplink).toMatch(/^1: lo: <LOOPBACK,UP[,>]/);
      expect(v.ping).toBe('0');
    });
  });

  it('a user namespace maps container root to host uid 100000; files it creates belong to 100000 on the host', () => {
    // the mapped root is an unprivileged user on the host: it must be able to reach the rootfs
    fs.chmodSync(sb.dir, 0o755);
    const id = uniqueId('userns');
    const b = shBundle(
      sb,
      id,
      [
        'echo uid_map=$(cat /proc/self/uid_map)',
        'echo gid_map=$(cat /proc/self/gid_map)',
        'echo id=$(id -u):$(id -g)',
        'touch /data/made-inside && echo touched=$?',
        'echo owner=$(stat -c %u:%g /data/made-inside)',
        'echo outside_owner=$(stat -c %u /bin/busybox)',
      ].join('; '),
      (s) => {
        s.linux!.namespaces!.push({ type: 'user' });
        s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
        s.root!.readonly = false;
      },
    );
    const data = path.join(b, 'rootfs', 'data');
    fs.mkdirSync(data);
    fs.chownSync(data, 100000, 100000);
    const r = sb.tcr(['run', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const v = kv(r.stdout);
    expect(v.uid_map.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(v.gid_map.trim().split(/\s+/)).toEqual(['0', '100000', '65536']);
    expect(v.id).toBe('0:0');
    expect(v.touched).toBe('0');
    expect(v.owner).toBe('0:0');
    // host root is not mapped: the overflow id
    expect(v.outside_owner).toBe('65534');
    const st = fs.statSync(path.join(data, 'made-inside'));
    expect([st.uid, st.gid]).toEqual([100000, 100000]);
    expectNothingLeft(sb, id);
  });

  it('create then start works with a user namespace (the init, an unprivileged host uid, opens the exec fifo)', async () => {
    fs.chmodSync(sb.dir, 0o755);
    const c = createContainer(sb, 'echo started as $(id -u) mapped $(cat /proc/self/uid_map)', (s) => {
      s.linux!.namespaces!.push({ type: 'user' });
      s.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      s.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    });
    expect(c.result.stdout).toBe('');
    expect(c.result.status).toBe(0);
    expect(state(sb, c.id).status).toBe('created');
    const s = sb.tcr(['start', c.id]);
    expect(s.stderr).toBe('');
    expect(s.status).toBe(0);
    await waitFor(() => fs.readFileSync(c.file, 'utf8').includes('\n'), 5000, 'output');
    expect(fs.readFileSync(c.file, 'utf8').replace(/\s+/g, ' ').trim()).toBe('started as 0 mapped 0 100000 65536');
    expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
    expectNothingLeft(sb, c.id);
  });

  it("a container joins another container's network and ipc namespaces by path", () => {
    const a = runDetached(sb, 'sleep 30');
    try {
      const id = uniqueId('join');
      const b = shBundle(
        sb,
        id,
        'echo net=$(readlink /proc/self/ns/net); echo ipc=$(readlink /proc/self/ns/ipc); echo uts=$(readlink /proc/self/ns/uts)',
        (s) => {
          s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
            n.type === 'network'
              ? { type: 'network', path: `/proc/${a.pid}/ns/net` }
              : n.type === 'ipc'
                ? { type: 'ipc', path: `/proc/${a.pid}/ns/ipc` }
                : n,
          );
        },
      );
      const r = sb.tcr(['run', '--bundle', b, id]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const v = kv(r.stdout);
      expect(v.net).toBe(fs.readlinkSync(`/proc/${a.pid}/ns/net`));
      expect(v.ipc).toBe(fs.readlinkSync(`/proc/${a.pid}/ns/ipc`));
      expect(v.net).not.toBe(hostNs('net'));
      // the uts namespace was not joined: a new one
      expect(v.uts).not.toBe(fs.readlinkSync(`/proc/${a.pid}/ns/uts`));
      expect(v.uts).not.toBe(hostNs('uts'));
      expectNothingLeft(sb, id);
    } finally {
      expect(sb.tcr(['delete', '--force', a.id]).status).toBe(0);
    }
  });

  it('joining a namespace path that does not exist fails create and leaves nothing', () => {
    const id = uniqueId('joinbad');
    const b = shBundle(sb, id, 'true', (s) => {
      s.linux!.namespaces = s.linux!.namespaces!.map((n) =>
        n.type === 'network' ? { type: 'network', path: '/proc/999999999/ns/net' } : n,
      );
    });
    const r = sb.tcr(['create', '--bundle', b, id]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/proc/999999999/ns/net');
    expectNothingLeft(sb, id);
  });

  it("a cgroup namespace shows the container's cgroups as the root", () => {
    const r = sb.run('echo ns=$(readlink /proc/self/ns/cgroup); cat /proc/self/cgroup', (s) => {
      s.linux!.namespaces!.push({ type: 'cgroup' });
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [first, ...lines] = r.stdout.trim().split('\n');
    expect(first).toMatch(/^ns=cgroup:\[\d+\]$/);
    expect(first.slice(3)).not.toBe(hostNs('cgroup'));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines).toContain('0::/');
    for (const l of lines) expect(l).toMatch(/^\d+:[^:]*:\/$/);
  });

  it.skipIf(!hasTimeNs)('a time namespace applies linux.timeOffsets to boottime and monotonic', () => {
    const tenDays = 10 * 86400;
    const r = sb.run(
      'echo ns=$(readlink /proc/self/ns/time); cat /proc/self/timens_offsets; echo uptime=$(cut -d" " -f1 /proc/uptime)',
      (s) => {
        s.linux!.namespaces!.push({ type: 'time' });
        s.linux!.timeOffsets = { boottime: { secs: tenDays, nanosecs: 0 }, monotonic: { secs: 3600, nanosecs: 500 } };
      },
    );
    const hostUptime = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ns=time:\[\d+\]$/);
    expect(lines[0].slice(3)).not.toBe(hostNs('time'));
    const offsets = lines.filter((l) => /^(monotonic|boottime)/.test(l)).map((l) => l.trim().split(/\s+/));
    expect(offsets).toContainEqual(['monotonic', '3600', '500']);
    expect(offsets).toContainEqual(['boottime', String(tenDays), '0']);
    const inside = Number(lines.find((l) => l.startsWith('uptime='))!.slice(7));
    expect(inside - hostUptime).toBeGreaterThan(tenDays - 30);
    expect(inside - hostUptime).toBeLessThan(tenDays + 30);
  });

  describe("no mount namespace: the container shares the host's (the OCI suite's linux_ns_itype)", () => {
    const noMountNs = (s: Parameters<Parameters<typeof shBundle>[3] & object>[0]) => {
      s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
      s.root!.readonly = false;
    };

    it('sees its own proc, dev and masked paths, mounted in the host under the rootfs; delete leaves nothing mounted', () => {
      const c = runDetached(sb, 'sleep 30', noMountNs);
      try {
        expect(fs.readlinkSync(`/proc/${c.pid}/ns/mnt`)).toBe(hostNs('mnt'));
        expect(fs.readlinkSync(`/proc/${c.pid}/root`)).toBe(path.join(c.bundle, 'rootfs'));
        const made = fs
          .readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4])
          .filter((m) => m?.startsWith(path.join(c.bundle, 'rootfs') + '/'));
        expect(made).toEqual(expect.arrayContaining(['/proc', '/dev', '/sys'].map((d) => path.join(c.bundle, 'rootfs', d))));
        // exec has no mount namespace to join: it takes the init's root
        const e = sb.tcr(['exec', c.id, 'sh', '-c', 'wc -c < /proc/keys; ls /bin/busybox']);
        expect(e.stderr).toBe('');
        expect(e.status).toBe(0);
        expect(e.stdout).toBe('0\n/bin/busybox\n'); // /proc/keys masked (a /dev/null bind); the rootfs as /
      } finally {
        expect(sb.tcr(['delete', '--force', c.id]).status).toBe(0);
      }
      expectNothingLeft(sb, c.id);
    });

    it('a pre-existing mount under the rootfs stays after delete; only what the container made goes', () => {
      const id = uniqueId('nomnt');
      const b = shBundle(sb, id, 'ls /keep', noMountNs);
      const keep = path.join(b, 'rootfs', 'keep');
      fs.mkdirSync(keep);
      expect(spawnSync('mount', ['-t', 'tmpfs', 'keep', keep]).status).toBe(0);
      try {
        const r = sb.tcr(['run', '--bundle', b, id]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(mountsUnder(b)).toEqual([keep]);
      } finally {
        spawnSync('umount', [keep]);
      }
      expectNothingLeft(sb, id);
    });

    it('a create that fails after the init has mounted undoes its mounts', () => {
      const id = uniqueId('nomntf');
      const b = shBundle(sb, id, 'true', (s) => {
        noMountNs(s);
        s.process!.args = ['/no/such/program'];
      });
      const r = sb.tcr(['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/no\/such\/program/);
      expectNothingLeft(sb, id);
    });

    it("a read-only root without a mount namespace is refused (it would be the host's mount)", () => {
      const id = uniqueId('nomntro');
      const b = shBundle(sb, id, 'true', (s) => {
        noMountNs(s);
        s.root!.readonly = true;
      });
      const r = sb.tcr(['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/root\.readonly: needs a mount namespace/);
      expectNothingLeft(sb, id);
    });
  });

  it("without a time namespace, uptime is the host's", () => {
    const r = sb.run('cut -d" " -f1 /proc/uptime');
    const host = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    expect(r.status).toBe(0);
    expect(Math.abs(Number(r.stdout.trim()) - host)).toBeLessThan(30);
  });
});
