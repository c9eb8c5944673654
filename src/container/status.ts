// A container's status is derived from the kernel, never trusted from a file:
// created while the exec fifo exists, running while the init lives, stopped
// once it is gone (or its pid names another process now).
import fs from 'node:fs';
import type { OciState } from '../spec/types.js';
import { managerFromRecord } from '../cgroups/manager.js';
import { isSameLiveProcess } from './proc.js';
import type { RecordSummary, StateStore } from './state-store.js';

export type Status = OciState['status'];

export function deriveStatus(rec: RecordSummary, store: StateStore): Status {
  if (rec.pid <= 0) return 'stopped';
  if (!isSameLiveProcess(rec.pid, rec.startTime)) return 'stopped';
  if (rec.phase === 'creating') return 'creating';
  if (fs.existsSync(store.fifo(rec.id))) return 'created';
  if (rec.cgroup && managerFromRecord(rec.cgroup).isFrozen()) return 'paused';
  return 'running';
}

export function ociState(rec: RecordSummary, status: Status): OciState & Record<string, unknown> {
  const s: OciState & Record<string, unknown> = {
    ociVersion: rec.ociVersion,
    id: rec.id,
    pid: status === 'stopped' ? 0 : rec.pid,
    status,
    bundle: rec.bundle,
    rootfs: rec.rootfs,
    created: rec.created,
    owner: rec.owner,
  };
  if (rec.annotations && Object.keys(rec.annotations).length) s.annotations = rec.annotations;
  return s;
}
