// linux.namespaces → how the init gets its namespaces: created by the clone,
// joined by setns in a first stage, or (cgroup, time) unshared once the init
// has been placed in its cgroup and given its clock offsets.
import type { Spec, NamespaceType } from '../spec/types.js';
import { Step, type PlanStep } from './plan-steps.js';

export const CLONE_NEW: Record<NamespaceType, number> = {
  mount: 0x00020000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  network: 0x40000000,
  cgroup: 0x02000000,
  time: 0x00000080,
};

/** The names /proc/PID/ns uses for each type. */
export const NS_PROC_NAME: Record<NamespaceType, string> = {
  mount: 'mnt',
  uts: 'uts',
  ipc: 'ipc',
  user: 'user',
  pid: 'pid',
  network: 'net',
  cgroup: 'cgroup',
  time: 'time',
};

export interface NamespacePlan {
  /** namespaces the clone creates */
  cloneFlags: number;
  /** setns steps a first stage runs before cloning the init (user first) */
  joinSteps: PlanStep[];
  /** steps right after the runtime's start sync (cgroup, time) */
  afterStart: PlanStep[];
  newUser: boolean;
  joinedUser: boolean;
  has(type: NamespaceType): boolean;
  isNew(type: NamespaceType): boolean;
}

const TIME_CLOCKS: Record<string, string> = { monotonic: 'monotonic', boottime: 'boottime' };

export function planNamespaces(spec: Spec): NamespacePlan {
  const list = spec.linux?.namespaces ?? [];
  const byType = new Map(list.map((n) => [n.type, n]));
  let cloneFlags = 0;
  const joinSteps: PlanStep[] = [];
  const afterStart: PlanStep[] = [];
  // user first: the other namespaces may belong to the joined user namespace
  const ordered = [...list].sort((a, b) => Number(b.type === 'user') - Number(a.type === 'user'));
  for (const ns of ordered) {
    if (ns.path) {
      joinSteps.push(Step.setns({ path: ns.path, nstype: CLONE_NEW[ns.type], label: `setns ${ns.type} ${ns.path}` }));
    } else if (ns.type !== 'cgroup' && ns.type !== 'time') {
      cloneFlags |= CLONE_NEW[ns.type];
    }
  }
  const time = byType.get('time');
  if (time && !time.path) {
    // offsets can only be written before any process lives in the namespace:
    // unshare makes it for our children, then we enter it ourselves
    afterStart.push(Step.unshare({ cloneFlags: CLONE_NEW.time, label: 'unshare time namespace' }));
    const offsets = Object.entries(spec.linux?.timeOffsets ?? {})
      .filter(([clock]) => clock in TIME_CLOCKS)
      .map(([clock, o]) => `${TIME_CLOCKS[clock]} ${o.secs ?? 0} ${o.nanosecs ?? 0}\n`)
      .join('');
    if (offsets)
      afterStart.push(
        Step.writeFile({
          path: '/proc/self/timens_offsets',
          content: offsets,
          label: `write timens_offsets: ${offsets.trim().replace(/\n/g, ', ')}`,
        }),
      );
    afterStart.push(Step.setns({ path: '/proc/self/ns/time_for_children', nstype: CLONE_NEW.time, label: 'enter the new time namespace' }));
  }
  const cgroup = byType.get('cgroup');
  if (cgroup && !cgroup.path)
    afterStart.push(Step.unshare({ cloneFlags: CLONE_NEW.cgroup, label: 'unshare cgroup namespace (rooted at the container cgroup)' }));
  const user = byType.get('user');
  return {
    cloneFlags,
    joinSteps,
    afterStart,
    newUser: !!user && !user.path,
    joinedUser: !!user?.path,
    has: (t) => byType.has(t),
    isNew: (t) => byType.has(t) && !byType.get(t)!.path,
  };
}
