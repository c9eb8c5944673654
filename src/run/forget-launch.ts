// Before an image container runs again (a restart by its monitor, tcr start,
// tcr restart): the stopped launch's state goes (its cgroup, its record, its
// exit record), the container's directory, with its upper layer, stays.
import type { Runtime } from '../container/runtime.js';
import { ContainerLock } from '../container/lock.js';
import { deriveStatus } from '../container/status.js';
import { stopRequested } from './monitor-files.js';

/**
 * False when there is nothing to forget: the container is gone or runs, or
 * (`heedStop`, the monitor's restart) a stop or rm was asked meanwhile.
 */
export async function forgetLaunch(rt: Runtime, dir: string, id: string, heedStop: boolean): Promise<boolean> {
  const lock = ContainerLock.acquire(rt.store.dir(id));
  if (!lock) return false;
  try {
    if (!rt.store.exists(id) || (heedStop && stopRequested(dir))) return false;
    const rec = rt.store.read(id);
    if (deriveStatus(rec, rt.store) !== 'stopped') return false;
    // a foreground run's record owns the directory: the next launch's does not (rm removes it)
    if (rec.hostCleanup?.remove.length) {
      rec.hostCleanup = { ...rec.hostCleanup, remove: [] };
      rt.store.write(rec);
    }
  } finally {
    lock.release();
  }
  // a name rename gave it outlives the launch (its entry is stale only until the next launch claims the directory)
  await rt.container(id).delete(true, true);
  return true;
}
