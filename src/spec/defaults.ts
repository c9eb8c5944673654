// The config.json `tcr spec` writes: the same container `runc spec` describes,
// so bundles move between the two runtimes unchanged.
import type { Spec } from './types.js';

export const OCI_VERSION = '1.0.2-dev';

const DEFAULT_CAPS = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export function defaultSpec(opts: { rootless?: boolean } = {}): Spec {
  const spec: Spec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPS],
        effective: [...DEFAULT_CAPS],
        permitted: [...DEFAULT_CAPS],
        ambient: [...DEFAULT_CAPS],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
    ],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
        '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  if (opts.rootless) {
    // as `runc spec --rootless`: a user namespace mapping the caller to root,
    // no network namespace, and /sys bound from the host
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;
    spec.hostname = 'runc';
    spec.linux!.uidMappings = [{ containerID: 0, hostID: uid, size: 1 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: gid, size: 1 }];
    spec.linux!.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }, { type: 'user' }];
    delete spec.linux!.resources;
    spec.mounts = spec.mounts!
      .filter((m) => m.destination !== '/sys' && m.destination !== '/sys/fs/cgroup')
      .map((m) => (m.destination === '/dev/pts' ? { ...m, options: m.options!.filter((o) => o !== 'gid=5') } : m));
    spec.mounts.push({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  }
  return spec;
}
