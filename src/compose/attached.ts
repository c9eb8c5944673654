// `compose up` without -d: the services' logs followed in the foreground
// until they all stop; Ctrl-C (SIGINT or SIGTERM) stops them, as docker
// compose's "Gracefully stopping...". With --abort-on-container-exit the first
// container to stop stops the rest, and --exit-code-from's status is returned.
import fs from 'node:fs';
import { projectContainers } from './containers.js';
import { logs, lifecycle } from './commands.js';
import type { Project } from './model.js';
import type { Globals } from './tcr-child.js';

export async function attached(
  g: Globals,
  project: Project,
  o: { services: string[]; abortOnExit: boolean; exitCodeFrom?: string },
): Promise<number> {
  let stopping: Promise<void> | undefined;
  const stopAll = (why: string) => {
    if (!stopping) {
      fs.writeSync(2, `${why}\n`);
      stopping = lifecycle(g, project, 'stop', o.services);
    }
    return stopping;
  };
  const onSignal = () => void stopAll('Gracefully stopping... (press Ctrl+C again to force)');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let watching = true;
  const watch = (async () => {
    if (!o.abortOnExit) return;
    while (watching) {
      const stopped = projectContainers(g.root, project.name).find((c) => !c.oneoff && c.status === 'stopped');
      if (stopped) {
        await stopAll(`${stopped.id} exited with code ${stopped.exitCode ?? -1}; aborting on container exit...`);
        return;
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  try {
    await logs(g, project, { follow: true }, o.services);
    watching = false;
    await watch;
    await stopping;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const cs = projectContainers(g.root, project.name).filter((c) => !c.oneoff);
  if (o.exitCodeFrom) return cs.find((c) => c.service === o.exitCodeFrom)?.exitCode ?? 1;
  return 0;
}
