// `tcr lab`: measurements of this machine that explain what a container is
// (src/labs/). Its code is a bundle of its own, loaded only here.
import type { Command } from 'commander';
import { TcrError } from '../errors.js';

export function registerLabCommand(program: Command): void {
  program
    .command('lab <name>')
    .description('run a lab: list, a lab name, or all (then --report DIR is required)')
    .option('--out <dir>', "where a lab's pictures go (default: ./lab-NAME)")
    .option('--report <dir>', 'lab all: write an HTML report with every lab, and its pictures, to this directory')
    .action(async (name: string, o: { out?: string; report?: string }) => {
      const labs = await import('../bundles/labs.js');
      if (name === 'list') return labs.labList();
      if (name === 'all') {
        if (!o.report) throw new TcrError('lab all: --report DIR is required (the HTML report is written there)');
        process.exitCode = await labs.labAll(o.report);
        return;
      }
      if (o.report) throw new TcrError(`lab ${name}: --report is for lab all; a single lab takes --out DIR`);
      await labs.labOne(name, o.out);
    });
}
