// What `tcr run IMAGE` changes for an ordinary user, as rootless podman: the
// container gets a user namespace mapping 0 to the user and 1..N to their
// /etc/subuid and /etc/subgid range (newuidmap writes it, src/container/
// rootless.ts), the same map the layers were unpacked under
// (src/image/userns-exec.ts), so an image's root-owned files are root's
// inside. A user can make no bridge or veth: its network is slirp4netns'.
import os from 'node:os';
import { TcrError } from '../errors.js';
import { firstRange } from '../container/mapped-root.js';
import type { IdMapping, Spec } from '../spec/types.js';
import type { ImageRunOptions } from './options.js';

/** 0 → the user's own id, then 1.. → the first range of `file`, if any (else only the own id, as the layers were unpacked). */
function mapsOf(file: string, own: number): IdMapping[] {
  const range = firstRange(file, os.userInfo().username, own);
  const maps = [{ containerID: 0, hostID: own, size: 1 }];
  if (range) maps.push({ containerID: 1, hostID: range.start, size: range.count });
  return maps;
}

/** The spec of an image container made rootless: a user namespace with the user's maps, and what the kernel refuses in it left out. */
export function rootlessImageSpec(spec: Spec): Spec {
  const linux = spec.linux!;
  const uid = process.geteuid?.() ?? 0;
  linux.uidMappings = mapsOf('/etc/subuid', uid);
  linux.gidMappings = mapsOf('/etc/subgid', process.getegid?.() ?? 0);
  linux.namespaces = [...(linux.namespaces ?? []).filter((n) => n.type !== 'user'), { type: 'user' }];
  const netns = linux.namespaces.some((n) => n.type === 'network');
  const groupsMapped = linux.gidMappings.length > 1;
  spec.mounts = (spec.mounts ?? []).map((m) => {
    // sysfs needs a network namespace of the user's own; in the host's, the host's /sys is bound read-only (runc's ToRootless)
    if (m.destination === '/sys' && m.type === 'sysfs' && !netns)
      return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
    // devpts' gid=5 (tty) exists only where a range is mapped
    if (!groupsMapped && m.options) return { ...m, options: m.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) };
    return m;
  });
  return spec;
}

const USER_NETWORKS = ['none', 'host', 'slirp4netns'];

/**
 * The network flags for an ordinary user: none, host, slirp4netns, and
 * container:NAME of another of the user's containers; the default (bridge,
 * which needs root for its veth and NAT rules) becomes slirp4netns, as
 * rootless podman's (src/network/slirp.ts). Anything else fails naming what
 * works.
 */
export function rootlessNetwork(o: ImageRunOptions): ImageRunOptions {
  const network = o.network ?? 'bridge';
  if (USER_NETWORKS.includes(network) || network.startsWith('container:')) return o;
  if (network === 'bridge') return { ...o, network: 'slirp4netns' };
  throw new TcrError(
    `--network ${network}: as uid ${process.geteuid?.()}, tcr has no bridge or user network (they need root for their veth pairs and NAT rules): use --network slirp4netns (the default for a user: user-mode networking, -p works), none (a private loopback) or host (the host's network); or run as root`,
    125,
  );
}
