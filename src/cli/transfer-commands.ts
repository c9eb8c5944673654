// docker's commands that move files and images in and out of tcr: cp,
// export, save, push, login and logout. Their code is in src/transfer/,
// loaded (through the image bundles) only when one of them runs.
import { Command } from 'commander';
import { TcrError, errorMessage } from '../errors.js';
import type { GlobalOptions } from './main.js';

/** tcr's own failures of these commands exit 125, as docker's do. */
function docker<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a);
    } catch (e) {
      throw new TcrError(errorMessage(e), 125, { cause: e });
    }
  };
}

async function rootContext(cmd: Command) {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const { ImageStore, defaultStoreRoot } = await import('../image/store.js');
  return { runtimeRoot: g.root, store: new ImageStore({ root: g.store ?? defaultStoreRoot() }) };
}

export function registerTransferCommands(program: Command): void {
  program
    .command('cp')
    .description(
      'copy files between a container and the host: NAME:PATH on one side, a host path or - (a tar on stdin/stdout) on the other',
    )
    .argument('<src>', 'NAME:PATH, a host path, or - (a tar stream on stdin)')
    .argument('<dest>', 'NAME:PATH, a host path, or - (a tar stream on stdout)')
    .option('-a, --archive', 'keep the owners (uid:gid) of the source')
    .option('-L, --follow-link', 'follow a symlink that SRC names')
    .action(
      docker(async (src: string, dest: string, o: { archive?: boolean; followLink?: boolean }, cmd: Command) => {
        const { copyFiles } = await import('../image/transfer.js');
        await copyFiles(await rootContext(cmd), src, dest, o);
      }),
    );
}
