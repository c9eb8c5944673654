// --volumes-from NAME[:ro|rw]: the volumes and host binds another container
// mounts (running or stopped, as docker allows), read from its spec, as
// mount requests of this run. Its volumes are named in this container's
// volumes.json too, so `volume rm` refuses them while either container
// exists; they are never filled again. The run's own -v/--mount/--tmpfs win
// on the same path, as docker's do.
import { resolveContainer } from '../container/names.js';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { StateStore } from '../container/state-store.js';
import type { MountRequest, Propagation } from './mount-flags.js';
import { PROPAGATIONS } from './mount-flags.js';
import type { VolumeStore } from './store.js';

export interface VolumesFromContext {
  state: StateStore;
  volumes: VolumeStore;
  /** the store directory of an image container (its etc files live there: never shared) */
  dirOf: (id: string) => string;
}

/** Bind mounts tcr itself adds to a run (--init's docker-init, --ipc host's /dev/shm), which are no user's. */
const OWN_TARGETS = new Set(['/sbin/docker-init', '/dev/shm']);

function fromOne(value: string, ctx: VolumesFromContext): MountRequest[] {
  const where = `--volumes-from ${JSON.stringify(value)}`;
  const [name, mode, ...rest] = value.split(':');
  if (!name || rest.length || (mode !== undefined && mode !== 'ro' && mode !== 'rw'))
    throw new TcrError(`${where}: give CONTAINER[:ro|rw]`);
  let rec;
  try {
    rec = ctx.state.read(resolveContainer(ctx.state.root, name)); // by a name rename gave it too
  } catch {
    throw new TcrError(`${where}: no such container`);
  }
  const mounts = rec.config.mounts ?? [];
  const own = ctx.dirOf(rec.id);
  const out: MountRequest[] = [];
  for (const m of mounts) {
    if (m.type !== 'bind' || !m.source || OWN_TARGETS.has(m.destination)) continue;
    const opts = m.options ?? [];
    const readonly = mode === undefined ? opts.includes('ro') : mode === 'ro';
    const inVolumes = path.relative(ctx.volumes.root, m.source);
    if (!inVolumes.startsWith('..') && !path.isAbsolute(inVolumes)) {
      const volume = inVolumes.split(path.sep)[0];
      if (!ctx.volumes.get(volume)) throw new TcrError(`${where}: its volume ${volume} no longer exists`);
      out.push({ type: 'volume', name: volume, target: m.destination, readonly, nocopy: true, flag: where });
      continue;
    }
    if (m.source === own || m.source.startsWith(own + '/')) continue; // its /etc/hosts and friends
    const propagation = (opts.find((o) => (PROPAGATIONS as readonly string[]).includes(o)) ?? 'rprivate') as Propagation;
    out.push({ type: 'bind', source: m.source, target: m.destination, readonly, propagation, flag: where });
  }
  return out;
}

/** The requests of every --volumes-from, less the paths `own` (this run's -v, --mount, --tmpfs) or an earlier one mounts. */
export function volumesFromRequests(values: string[], own: MountRequest[], ctx: VolumesFromContext): MountRequest[] {
  const taken = new Set(own.map((r) => r.target));
  const out: MountRequest[] = [];
  for (const r of values.flatMap((v) => fromOne(v, ctx))) {
    if (taken.has(r.target)) continue;
    taken.add(r.target);
    out.push(r);
  }
  return out;
}
