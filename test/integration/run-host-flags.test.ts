// docker's HostConfig flags of `tcr run IMAGE` as the process inside sees
// them: capabilities, groups, limits, mounts, /proc/sys, its own cgroup's
// files (hybrid v1: /sys/fs/cgroup/CONTROLLER is the container's own through
// its cgroup namespace), /dev; and each bad value refused with exit 125, its
// flag named, nothing made. On busybox with a layer of users and groups.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { buildImage, layoutLayers, writeLayout } from '../image-fixtures.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const USERS = [
  { name: 'etc', type: 'directory' as const },
  {
    name: 'etc/passwd',
    content: 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n',
  },
  { name: 'etc/group', content: 'root:x:0:\nwheel:x:10:root\napp:x:1000:\naudio:x:29:app\nvideo:x:44:app\nnogroup:x:65534:\n' },
];

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr run IMAGE: HostConfig flags', () => {
  const sb = new Sandbox('tcr-host-flags');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  /** `sh -c script` in a fresh --rm container; its stdout, after checking it ran */
  const sh = (flags: string[], script: string) => {
    const r = tcr(['run', '--rm', '--network', 'none', ...flags, 'img', 'sh', '-c', script]);
    expect(r.stderr, flags.join(' ')).toBe('');
    expect(r.status, flags.join(' ')).toBe(0);
    return r.stdout;
  };
  const status = (text: string, field: string) => new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(text)?.[1].trim();
  /** Each `run FLAGS img true` exits 125 with its message and leaves no container, state, mount or cgroup. */
  const expectRefused = (cases: [string[], RegExp][]) => {
    for (const [flags, message] of cases) {
      const r = tcr(['run', '--rm', '--name', 'refused', '--network', 'none', ...flags, 'img', 'true']);
      expect(r.stderr, flags.join(' ')).toMatch(message);
      expect(r.status, flags.join(' ')).toBe(125);
      expect(containers(), flags.join(' ')).toEqual([]);
      expect(states(), flags.join(' ')).toEqual([]);
      expect(mountsUnder(sb.dir)).toEqual([]);
      for (const c of ['memory', 'pids', 'cpu', 'devices']) expect(fs.existsSync(`/sys/fs/cgroup/${c}/tcr/refused`)).toBe(false);
    }
  };

  beforeAll(async () => {
    const img = await buildImage({ layers: [...layoutLayers(OCI), USERS] });
    const layout = path.join(sb.dir, 'layout');
    writeLayout(layout, [{ img, refName: 'latest' }]);
    const r = tcr(['import', '-q', layout, 'img']);
    expect(r.stderr).toBe('');
  });
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it("--privileged: tcr's whole bounding set, no seccomp, no masked or read-only paths, /sys rw, the host's devices", () => {
    const script = 'grep -E "^(CapEff|Seccomp):" /proc/self/status; grep -E " /(sys|proc/keys|proc/sys) " /proc/self/mountinfo; ls /dev';
    const plain = sh([], script);
    expect(status(plain, 'CapEff')).toBe('00000000a80425fb'); // docker's default set
    expect(status(plain, 'Seccomp')).toBe('2');
    expect(plain).toMatch(/ \/sys ro,.* - sysfs /);
    expect(plain).toMatch(/ \/proc\/keys /);
    expect(plain).toMatch(/ \/proc\/sys ro,/);
    expect(plain).not.toMatch(/^loop-control$/m);
    const priv = sh(['--privileged'], script);
    const bounding = status(fs.readFileSync('/proc/self/status', 'utf8'), 'CapBnd');
    expect(status(priv, 'CapEff')).toBe(bounding);
    expect(status(priv, 'Seccomp')).toBe('0');
    expect(priv).toMatch(/ \/sys rw,.* - sysfs /);
    expect(priv).not.toMatch(/ \/proc\/(keys|sys) /);
    for (const d of fs.readdirSync('/dev').filter((n) => /^(loop-control|loop0|kmsg|tty1)$/.test(n)))
      expect(priv).toMatch(new RegExp(`^${d}$`, 'm'));
    expect(sh(['--privileged'], 'cat /sys/fs/cgroup/devices/devices.list')).toBe('a *:* rwm\n');
  });

  it.skipIf(lacks(fs.existsSync('/dev/loop-control')))(
    '--device HOST:CTR:PERMS: the node, and a cgroup rule with just those permissions',
    () => {
      // the node keeps the host's mode and owner, whatever they are now
      const st = fs.statSync('/dev/loop-control');
      const modeString = () =>
        [6, 3, 0].map((sh) => ['r', 'w', 'x'].map((c, i) => ((st.mode >> (sh + 2 - i)) & 1 ? c : '-')).join('')).join('');
      const script =
        'ls -ln /dev/lc; grep "^c 10:237 " /sys/fs/cgroup/devices/devices.list; (exec 3</dev/lc) && echo read-ok; (exec 3>/dev/lc) 2>/dev/null || echo write-denied';
      expect(sh(['--device', '/dev/loop-control:/dev/lc:r'], script)).toMatch(
        new RegExp(`^c${modeString()} +1 ${st.uid} +${st.gid} +10, +237 .* /dev/lc\nc 10:237 r\nread-ok\nwrite-denied\n$`),
      );
      expect(sh(['--device', '/dev/loop-control:/dev/lc'], 'grep "^c 10:237 " /sys/fs/cgroup/devices/devices.list')).toBe('c 10:237 rwm\n');
      // without a container path the node keeps the host's
      expect(sh(['--device', '/dev/loop-control'], 'ls /dev/loop-control')).toBe('/dev/loop-control\n');
      expect(sh([], 'ls /dev/lc /dev/loop-control 2>&1 | wc -l')).toBe('2\n');
    },
  );

  it('--shm-size sizes /dev/shm (docker: 64m by default)', () => {
    expect(sh([], 'df -k /dev/shm | tail -1')).toMatch(/^shm\s+65536\s/);
    expect(sh(['--shm-size', '10m'], 'df -k /dev/shm | tail -1')).toMatch(/^shm\s+10240\s/);
  });

  it("--ulimit NAME=SOFT[:HARD] below tcr's own hard limits; the rest stay tcr's", () => {
    const limits = sh(['--ulimit', 'nofile=1000:2000', '--ulimit', 'nproc=500', '--ulimit', 'core=0'], 'cat /proc/self/limits');
    expect(limits).toMatch(/^Max open files +1000 +2000 +files/m);
    expect(limits).toMatch(/^Max processes +500 +500 +processes/m);
    expect(limits).toMatch(/^Max core file size +0 +0 +bytes/m);
    const own = fs.readFileSync('/proc/self/limits', 'utf8');
    const stack = (t: string) => /^Max stack size .*$/m.exec(t)?.[0];
    expect(stack(limits)).toBe(stack(own));
  });

  it("--sysctl: the IPC and network namespaces' own settings", () => {
    const out = sh(
      ['--sysctl', 'kernel.shmmax=12345', '--sysctl', 'net.ipv4.ip_forward=1', '--sysctl', 'fs.mqueue.msg_max=20'],
      'cat /proc/sys/kernel/shmmax /proc/sys/net/ipv4/ip_forward /proc/sys/fs/mqueue/msg_max',
    );
    expect(out).toBe('12345\n1\n20\n');
    expect(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8')).not.toBe('12345\n');
  });

  describe('namespaces', () => {
    const ns = (t: string) => fs.readlinkSync(`/proc/self/ns/${t}`);
    it("--ipc host, --pid host, --uts host share the host's; --userns host is the only mode (nothing is mapped)", () => {
      const script = 'for n in ipc pid uts; do readlink /proc/self/ns/$n; done; hostname; echo $HOSTNAME';
      const own = sh([], script).split('\n');
      expect(own.slice(0, 3)).not.toContain(ns('ipc'));
      expect(own.slice(0, 3)).not.toContain(ns('pid'));
      const host = sh(['--ipc', 'host', '--pid', 'host', '--uts', 'host', '--userns', 'host'], script).split('\n');
      expect(host.slice(0, 5)).toEqual([ns('ipc'), ns('pid'), ns('uts'), os.hostname(), os.hostname()]);
      // the host's /dev/shm goes with the host's IPC namespace
      expect(sh(['--ipc', 'host'], 'grep " /dev/shm " /proc/self/mountinfo')).toMatch(/ - tmpfs /);
    });

    it("--ipc container:NAME and --pid container:NAME join a running container's; it keeps running", () => {
      expect(tcr(['run', '-d', '--network', 'none', '--ipc', 'shareable', '--name', 'nsowner', 'img', 'sleep', '300']).status).toBe(0);
      try {
        const pid = JSON.parse(tcr(['inspect', 'nsowner']).stdout)[0].State.Pid as number;
        const out = sh(
          ['--ipc', 'container:nsowner', '--pid', 'container:nsowner'],
          'readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; tr "\\0" " " </proc/1/cmdline',
        );
        expect(out).toBe(`${fs.readlinkSync(`/proc/${pid}/ns/ipc`)}\n${fs.readlinkSync(`/proc/${pid}/ns/pid_for_children`)}\nsleep 300 `);
        expect(JSON.parse(tcr(['inspect', 'nsowner']).stdout)[0].State.Status).toBe('running');
      } finally {
        tcr(['rm', '-f', 'nsowner']);
      }
    });
  });

  it("groups: the user's from the image's /etc/group (root's too, as docker adds them), then --group-add", () => {
    expect(status(sh([], 'cat /proc/self/status'), 'Groups')).toBe('10');
    expect(status(sh(['-u', 'app'], 'cat /proc/self/status'), 'Groups')).toBe('29 44');
    expect(status(sh(['-u', 'app', '--group-add', 'wheel', '--group-add', '4321'], 'cat /proc/self/status'), 'Groups')).toBe(
      '10 29 44 4321',
    );
    // a group given with -u: no memberships, as runc's lookup
    expect(status(sh(['-u', 'app:app'], 'cat /proc/self/status'), 'Groups')).toBe('');
  });

  it('cpu and memory settings land in its own cgroup', () => {
    const flags = ['--cpu-shares', '512', '--cpu-quota', '50000', '--cpu-period', '200000', '--cpuset-cpus', '0', '--cpuset-mems', '0'];
    const mem = ['--memory-reservation', '20m', '--oom-kill-disable', '-m', '64m', '--oom-score-adj', '100'];
    const cg = '/sys/fs/cgroup';
    const out = sh(
      [...flags, ...mem],
      `cat ${cg}/cpu/cpu.shares ${cg}/cpu/cpu.cfs_quota_us ${cg}/cpu/cpu.cfs_period_us ${cg}/cpuset/cpuset.cpus ${cg}/cpuset/cpuset.mems ${cg}/memory/memory.soft_limit_in_bytes; grep oom_kill_disable ${cg}/memory/memory.oom_control; cat /proc/self/oom_score_adj`,
    );
    expect(out).toBe(`512\n50000\n200000\n0\n0\n${20 * 2 ** 20}\noom_kill_disable 1\n100\n`);
  });

  it('bad values name their flag, exit 125 and leave nothing behind', () => {
    expectRefused([
      [['--device', '/no/such/dev'], /^tcr: --device "\/no\/such\/dev": \/no\/such\/dev does not exist on the host\n$/],
      [['--device', '/etc/passwd'], /--device "\/etc\/passwd": \/etc\/passwd is not a character or block device/],
      [['--shm-size', '0'], /^tcr: --shm-size: "0" must be a size above 0/],
      [
        ['--ulimit', 'nofile=1000:30000'],
        /^tcr: --ulimit "nofile=1000:30000": the hard limit 30000 is above tcr's own \(20000\), and raising it needs CAP_SYS_RESOURCE/,
      ],
      [['--ulimit', 'nofile=3000:2000'], /--ulimit "nofile=3000:2000": the soft limit 3000 is above the hard limit 2000/],
      [['--ulimit', 'files=1'], /--ulimit "files=1": unknown limit "files"/],
      [['--sysctl', 'vm.swappiness=1'], /^tcr: --sysctl "vm.swappiness=1": vm.swappiness is not a namespaced sysctl/],
      [['--sysctl', 'kernel.shmmax=1', '--ipc', 'host'], /--sysctl "kernel.shmmax=1": kernel.shmmax is the host's with --ipc host/],
      [['--sysctl', 'net.ipv4.ip_forward=1', '--network', 'host'], /net.ipv4.ip_forward is the host's with --network host/],
      [['--ipc', 'container:nosuch'], /^tcr: --ipc container:nosuch: no such container\n$/],
      [['--pid', 'private-ish'], /^tcr: --pid: "private-ish" is not a mode/],
      [['--userns', 'keep-id'], /^tcr: --userns keep-id: keep-id is only supported in rootless mode/],
      [['--uts', 'host', '-h', 'box'], /-h\/--hostname: conflicts with --uts host/],
      [['--group-add', 'nosuchgroup'], /--group-add "nosuchgroup": no such group in the image's \/etc\/group/],
      [['--cpu-period', '10'], /^tcr: --cpu-period: 10 is out of range/],
      [['--cpus', '1', '--cpu-quota', '50000'], /--cpus: conflicts with --cpu-quota/],
      [['--cpuset-cpus', '999'], /^tcr: --cpuset-cpus: requested 999 is not available here/],
      [['--cpu-shares', 'lots'], /--cpu-shares: "lots" is not an integer/],
      [['-m', '10m', '--memory-reservation', '20m'], /--memory-reservation: 20m is above the memory limit/],
      [['--oom-score-adj', '2000'], /--oom-score-adj: 2000 is out of range/],
    ]);
  });
});
