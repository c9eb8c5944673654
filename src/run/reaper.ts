// `tcr run -d --rm`: there is no daemon to remove the container when it
// exits, so tcr leaves a small process of its own behind, as podman leaves
// conmon: started detached (its own session, stdio on the container's log),
// it waits for the container's init to end through a pidfd and then deletes
// the container, its overlay and its directory. If it is killed, the
// container stays, stopped, for `tcr rm`.
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import { native } from '../sys/native.js';
import { tcrLoader } from '../sys/package-root.js';

/** Starts the reaper of container `id`; its output (only errors) goes to `logFd`. */
export async function startReaper(stateRoot: string, storeRoot: string, id: string, logFd: number): Promise<void> {
  const { spawn } = await import('node:child_process');
  // the reaper never reaches a registry: without NODE_EXTRA_CA_CERTS its node starts twice as fast (bin/tcr)
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  const child = spawn(process.execPath, [tcrLoader(), '--root', stateRoot, '--store', storeRoot, 'reap', id], {
    env,
    detached: true,
    cwd: '/',
    stdio: ['ignore', logFd, logFd],
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  child.unref();
}

/** The reaper itself (`tcr reap ID`): waits for the container to stop, then deletes it and its anonymous volumes (--rm's). */
export async function reap(rt: Runtime, id: string, storeRoot: string): Promise<void> {
  for (;;) {
    if (!rt.store.exists(id)) return; // removed meanwhile (tcr rm)
    const c = rt.container(id);
    // status() compares the init's start time: a reused pid reads as stopped
    if (c.status() === 'stopped') break;
    await native().waitExitAsync(c.state().pid as number);
  }
  const { VolumeStore, readVolumeUses } = await import('../volumes/store.js');
  const uses = readVolumeUses(path.join(storeRoot, 'containers', id));
  try {
    await rt.container(id).delete(true);
  } catch (e) {
    if (rt.store.exists(id)) throw e; // a tcr rm that won the race is not an error
  }
  new VolumeStore(storeRoot).removeAnonymous(uses);
}
