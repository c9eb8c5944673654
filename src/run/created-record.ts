// docker's `create IMAGE`: the container is made (its directory, config,
// network plan, volumes) but nothing runs until `tcr start`, which launches
// it through its monitor. A state record without a process stands for it
// meanwhile, so inspect, ps -a, rm and start find it: its pid 0 makes it
// stopped to the runtime, and inspect tells it apart as docker's "created".
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import type { ContainerRecord } from '../container/state-store.js';
import { OCI_VERSION } from '../spec/defaults.js';
import type { Spec } from '../spec/types.js';

export function recordCreated(rt: Runtime, id: string, dir: string, spec: Spec): void {
  const lock = rt.store.claim(id);
  try {
    const rec: ContainerRecord = {
      ociVersion: OCI_VERSION,
      id,
      bundle: dir,
      rootfs: path.join(dir, 'rootfs'),
      phase: 'created',
      pid: 0,
      startTime: '',
      created: new Date().toISOString(),
      owner: 'root',
      annotations: spec.annotations,
      config: spec,
    };
    rt.store.write(rec);
  } finally {
    lock.release();
  }
}

/** A record recordCreated wrote, never launched since. */
export function neverStarted(rec: ContainerRecord): boolean {
  return rec.pid === 0 && rec.startTime === '';
}
