// `tcr export [-o FILE] NAME`: the container's file system as one tar, its
// layers and its own changes merged (whiteouts applied: a private read-only
// overlay of its upper dir and layers, container-root.ts), without its
// mounts (volumes, /proc), as docker's export.
import tar from 'tar-stream';
import type { Readable } from 'node:stream';
import { openContainerRoot, type RootContext } from './container-root.js';
import { writeArchive } from './tar-output.js';
import { TreePacker } from './tree-pack.js';

export async function exportContainer(ctx: RootContext, name: string, output: string | undefined): Promise<void> {
  const root = openContainerRoot(ctx, name, 'export');
  try {
    await writeArchive(output, 'export', () => {
      const pack = tar.pack();
      new TreePacker(pack).children(root.fd, '').then(
        () => pack.finalize(),
        (e: unknown) => pack.destroy(e as Error),
      );
      return pack as unknown as Readable;
    });
  } finally {
    root.close();
  }
}
