// --ipc, --pid, --uts and --userns: which namespaces a container gets of its
// own, shares with the host, or joins from another running container
// (/proc/PID/ns/TYPE of its init, as --network container:NAME joins one).
import { TcrError } from '../errors.js';
import type { StateStore } from '../container/state-store.js';
import { deriveStatus } from '../container/status.js';
import { joinedShm } from './shared-shm.js';
import { resolveContainer } from '../container/names.js';

export interface NamespaceFlagValues {
  ipc?: string;
  pid?: string;
  uts?: string;
  userns?: string;
}

export type NamespaceMode = { kind: 'private' } | { kind: 'host' } | { kind: 'container'; name: string };

const ALLOWED: Record<keyof NamespaceFlagValues, string[]> = {
  ipc: ['private', 'shareable', 'host', 'container:NAME', 'none'],
  pid: ['host', 'container:NAME'],
  uts: ['host'],
  userns: ['host'],
};

/** A flag's mode, checked against what docker takes for it (an empty value is the default). */
export function namespaceMode(flag: keyof NamespaceFlagValues, v: string | undefined): NamespaceMode {
  if (v === undefined || v === '' || v === 'private' || (flag === 'ipc' && (v === 'shareable' || v === 'none'))) return { kind: 'private' };
  if (v === 'host') return { kind: 'host' };
  if (v.startsWith('container:') && ALLOWED[flag].includes('container:NAME')) {
    const name = v.slice('container:'.length);
    if (!name) throw new TcrError(`--${flag} ${v}: give the container's name or id after container:`);
    return { kind: 'container', name };
  }
  if (flag === 'userns' && /^(keep-id|nomap)(:|$)/.test(v))
    // podman's modes that map the calling user's ids; as root podman refuses them too
    throw new TcrError(
      `--userns ${v}: ${v.split(':')[0]} is only supported in rootless mode (podman's mode for a non-root user); tcr runs as root: use --userns host or leave it out`,
    );
  const accepted = flag === 'userns' ? 'host, or empty for the default' : ALLOWED[flag].join(', ');
  throw new TcrError(`--${flag}: ${JSON.stringify(v)} is not a mode tcr takes here (${accepted})`);
}

/** What a container joins of others: /proc/PID/ns/TYPE paths, and the /dev/shm that goes with a joined IPC namespace. */
export interface NamespaceJoins {
  ipc?: string;
  pid?: string;
  /** the --ipc container's /dev/shm on the host (src/run/shared-shm.ts), bound on the joiner's as docker does */
  shm?: string;
}

/** The /proc/PID/ns/TYPE paths of the --ipc/--pid container:NAME containers, which must be running. */
export function namespaceJoins(f: NamespaceFlagValues, state: StateStore): NamespaceJoins {
  const out: NamespaceJoins = {};
  for (const flag of ['ipc', 'pid'] as const) {
    const mode = namespaceMode(flag, f[flag]);
    if (mode.kind !== 'container') continue;
    let rec;
    try {
      rec = state.read(resolveContainer(state.root, mode.name)); // by a name rename gave it too
    } catch {
      throw new TcrError(`--${flag} container:${mode.name}: no such container`);
    }
    if (deriveStatus(rec, state) !== 'running') throw new TcrError(`--${flag} container:${mode.name}: the container is not running`);
    out[flag] = `/proc/${rec.pid}/ns/${flag}`;
    // POSIX shared memory lives in /dev/shm, not in the IPC namespace: the other's is shared too
    if (flag === 'ipc') out.shm = joinedShm(mode.name, rec.config);
  }
  return out;
}
