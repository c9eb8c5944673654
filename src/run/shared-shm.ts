// --ipc shareable and --ipc container:NAME: POSIX shared memory lives in
// /dev/shm, not in the IPC namespace, so joining the namespace alone shares
// only SysV objects. As docker does, a shareable container's /dev/shm is a
// tmpfs mounted on the host (<store>/containers/ID/shm, mounted with the
// overlay and undone with it) and bound into the container, and a joiner
// binds the same one. A bind cannot reach a mount of another mount
// namespace (/proc/PID/root/dev/shm gives EINVAL), hence the host mount.
// A private container's /dev/shm is its own: docker refuses to share it.
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { HostTmpfs } from '../container/host-mounts.js';
import type { Mount, Spec } from '../spec/types.js';

const SHM = '/dev/shm';

/** Another's /dev/shm (the host's, or a shareable container's) bound on the container's own. */
export function shmBind(source: string): Mount {
  return { destination: SHM, type: 'bind', source, options: ['rbind', 'nosuid', 'noexec', 'nodev'] };
}

/** --ipc shareable: the spec's /dev/shm tmpfs becomes a host tmpfs in `dir` bound in; what to mount on the host. */
export function shareShm(spec: Spec, dir: string): HostTmpfs | undefined {
  const own = spec.mounts?.find((m) => m.destination === SHM && m.type === 'tmpfs');
  if (!own) return undefined;
  const target = path.join(dir, 'shm');
  spec.mounts = spec.mounts!.map((m) => (m === own ? shmBind(target) : m));
  return { target, options: own.options ?? [] };
}

/** The /dev/shm a --ipc container:NAME joiner binds: the other's, when it is the host's or a shareable one. */
export function joinedShm(name: string, other: Spec): string {
  const shm = other.mounts?.find((m) => m.destination === SHM);
  if (shm?.type === 'bind' && shm.source) return shm.source;
  throw new TcrError(`--ipc container:${name}: non-shareable IPC (run ${name} with --ipc shareable, as docker asks)`);
}
