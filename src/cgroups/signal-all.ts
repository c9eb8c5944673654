// Signalling every process of a cgroup, the same way for both managers.
import type { CgroupManager } from './manager.js';

type Freezable = Pick<CgroupManager, 'freeze' | 'thaw' | 'isFrozen' | 'procs'>;

/** Frozen, nothing can fork away between reading the list and signalling it. */
export function signalEachFrozen(cg: Freezable, signal: number, canFreeze = true): void {
  const wasFrozen = cg.isFrozen();
  if (canFreeze && !wasFrozen) cg.freeze();
  try {
    for (const pid of cg.procs()) {
      try {
        process.kill(pid, signal);
      } catch {
        // exited meanwhile
      }
    }
  } finally {
    // a SIGKILL takes effect only in a thawed cgroup, so it always thaws (as runc does)
    if (!wasFrozen || signal === 9) cg.thaw();
  }
}
