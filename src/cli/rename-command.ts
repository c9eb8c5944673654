// `tcr rename OLD NEW` (and `container rename`): docker's rename; a running
// container keeps its id (src/run/rename.ts says how).
import type { Command } from 'commander';
import { Runtime } from '../container/runtime.js';
import { dockerExit } from './cli-errors.js';
import type { GlobalOptions } from './main.js';

function addRename(c: Command): void {
  c.description('rename a container (a running one keeps its id)')
    .argument('<container>')
    .argument('<new-name>')
    .action(
      dockerExit(async (oldId: string, newId: string, _o: unknown, cmd: Command) => {
        const g = cmd.optsWithGlobals<GlobalOptions>();
        const { ImageStore } = await import('../image/store.js');
        const { renameContainer } = await import('../run/rename.js');
        await renameContainer(new Runtime({ root: g.root }), new ImageStore({ root: g.store }).root, oldId, newId);
      }),
    );
}

export function registerRenameCommand(program: Command): void {
  addRename(program.command('rename'));
  // `container` is inspect-commands.ts's; only set up when it is the command invoked
  const container = program.commands.find((c) => c.name() === 'container');
  if (container) addRename(container.command('rename'));
}
