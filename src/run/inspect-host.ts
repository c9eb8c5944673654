// The HostConfig fields of `tcr inspect` that docker's HostConfig flags set:
// the modes from the run note (the spec no longer tells `--ipc shareable`
// from private), the limits and settings from the spec itself.
import type { Spec } from '../spec/types.js';
import type { DeviceMapping } from './device-flags.js';

/** What the dev.tcr.run note keeps of the HostConfig flags (src/run/image-spec.ts). */
export interface HostNote {
  privileged: boolean;
  ipcMode: string;
  pidMode: string;
  utsMode: string;
  init: boolean;
  groupAdd: string[];
  volumesFrom: string[];
  /** --device as given (absent in containers made before it was noted) */
  devices?: DeviceMapping[];
}

const SHM_DEFAULT = 64 * 1024 * 1024;

function shmBytes(spec: Spec): number {
  const size = spec.mounts?.find((m) => m.destination === '/dev/shm')?.options?.find((o) => o.startsWith('size='));
  const m = size ? /^size=(\d+)([km]?)$/.exec(size) : null;
  return m ? Number(m[1]) * (m[2] === 'k' ? 1024 : m[2] === 'm' ? 1024 ** 2 : 1) : SHM_DEFAULT;
}

/** docker's names and zero values for what the flags did not set. */
export function hostConfigFields(spec: Spec, note: HostNote | undefined): Record<string, unknown> {
  const res = spec.linux?.resources;
  const rlimits = spec.process?.rlimits ?? [];
  const unlimited = (n: number) => (n >= 2 ** 64 - 1 ? -1 : n);
  return {
    Privileged: note?.privileged ?? false,
    IpcMode: note?.ipcMode ?? 'private',
    PidMode: note?.pidMode ?? '',
    UTSMode: note?.utsMode ?? '',
    Init: note?.init || null,
    GroupAdd: note?.groupAdd.length ? note.groupAdd : null,
    VolumesFrom: note?.volumesFrom.length ? note.volumesFrom : null,
    Devices: note?.devices ?? [],
    CpuShares: res?.cpu?.shares ?? 0,
    CpuQuota: res?.cpu?.quota ?? 0,
    CpuPeriod: res?.cpu?.period ?? 0,
    CpusetCpus: res?.cpu?.cpus ?? '',
    CpusetMems: res?.cpu?.mems ?? '',
    MemoryReservation: res?.memory?.reservation ?? 0,
    OomKillDisable: !!res?.memory?.disableOOMKiller,
    OomScoreAdj: spec.process?.oomScoreAdj ?? 0,
    ShmSize: shmBytes(spec),
    Sysctls: spec.linux?.sysctl ?? {},
    Ulimits: rlimits.length
      ? rlimits.map((r) => ({ Name: r.type.replace(/^RLIMIT_/, '').toLowerCase(), Soft: unlimited(r.soft), Hard: unlimited(r.hard) }))
      : null,
  };
}
