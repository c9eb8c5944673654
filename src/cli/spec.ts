import { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { defaultSpec } from '../spec/defaults.js';

export function registerSpec(program: Command): void {
  program
    .command('spec')
    .description('write a default config.json into the bundle')
    .option('-b, --bundle <dir>', 'bundle directory', '.')
    .option('--rootless', 'a config for a container run without root')
    .action((o: { bundle: string; rootless?: boolean }) => {
      const file = path.join(o.bundle, 'config.json');
      if (fs.existsSync(file)) throw new TcrError(`File ${file} exists. Remove it first`);
      fs.writeFileSync(file, JSON.stringify(defaultSpec({ rootless: o.rootless }), null, '\t'));
    });
}
