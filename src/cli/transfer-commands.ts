// docker's commands that move files and images in and out of tcr: cp,
// export, save, push, login and logout. Their code is in src/transfer/,
// loaded (through the image bundles) only when one of them runs.
import { Command, Option } from 'commander';
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

  program
    .command('export')
    .description("write a container's file system (its image's layers with its changes, not its volumes) as a tar")
    .argument('<container>')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .action(
      docker(async (name: string, o: { output?: string }, cmd: Command) => {
        const { exportContainer } = await import('../image/transfer.js');
        await exportContainer(await rootContext(cmd), name, o.output);
      }),
    );

  program
    .command('save')
    .description('write images as a docker-archive (docker save, docker/podman/tcr load) or an oci-archive')
    .argument('<image...>', 'names or ids')
    .option('-o, --output <file>', 'write to this file instead of stdout')
    .addOption(new Option('--format <format>', 'archive layout').choices(['docker-archive', 'oci-archive']).default('docker-archive'))
    .action(
      docker(async (refs: string[], o: { output?: string; format: 'docker-archive' | 'oci-archive' }, cmd: Command) => {
        const { saveImages } = await import('../image/transfer.js');
        await saveImages((await rootContext(cmd)).store, refs, o);
      }),
    );

  program
    .command('push')
    .description('upload an image to a registry (plain HTTP for localhost, 127.0.0.1 and $TCR_INSECURE_REGISTRIES)')
    .argument('<image>', 'a store name or id')
    .argument('[destination]', 'REGISTRY/REPOSITORY[:TAG] to push to (default: the image name)')
    .option('-q, --quiet', 'print nothing but errors')
    .action(
      docker(async (image: string, dest: string | undefined, o: { quiet?: boolean }, cmd: Command) => {
        const { pushImage } = await import('../image/transfer.js');
        await pushImage((await rootContext(cmd)).store, image, dest, o);
      }),
    );

  program
    .command('login')
    .description('check credentials against a registry and store them where podman, skopeo and tcr read them')
    .argument('<registry>', 'host[:port]')
    .option('-u, --username <user>', 'user name')
    .option('-p, --password <password>', 'password (visible to other users in ps: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin')
    .action(
      docker(async (registry: string, o: { username?: string; password?: string; passwordStdin?: boolean }) => {
        const { login } = await import('../image/transfer.js');
        await login(registry, o);
      }),
    );

  program
    .command('logout')
    .description('remove the stored credentials of a registry')
    .argument('<registry>', 'host[:port]')
    .action(
      docker(async (registry: string) => {
        const { logout } = await import('../image/transfer.js');
        await logout(registry);
      }),
    );
}
