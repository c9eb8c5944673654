// Each command's --help lists what that command (and, for run, each of its
// two forms) accepts, and nothing of another's.
import { describe, expect, it } from 'vitest';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main.js';

function help(name: string): string {
  const c = (buildProgram(name).commands as Command[]).find((x) => x.name() === name)!;
  let text = '';
  c.configureOutput({ writeOut: (s) => (text += s) });
  c.outputHelp(); // with the text added after commander's (helpInformation leaves it out)
  return text;
}

/** The text of the help from `heading` to the next blank line. */
function section(text: string, heading: string): string {
  const i = text.indexOf(heading);
  expect(i, heading).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n\n', i);
  return text.slice(i, end < 0 ? undefined : end);
}

const RUNC_ONLY = [
  '--bundle',
  '--pid-file',
  '--no-pivot',
  '--no-new-keyring',
  '--preserve-fds',
  '--console-socket',
  '--trace',
  '--dry-run',
  '--keep',
];
const DOCKER_ONLY = [
  '--rm',
  '--name',
  '--env',
  '--env-file',
  '--workdir',
  '--user',
  '--entrypoint',
  '--hostname',
  '--volume',
  '--tmpfs',
  '--memory',
  '--memory-swap',
  '--cpus',
  '--pull',
];

describe('--help', () => {
  it("run: docker's form and flags first, runc's in a section of their own, and the rule between them", () => {
    const h = help('run');
    expect(h).toMatch(/^Usage: tcr run \[flags\] IMAGE \[COMMAND\.\.\.\] .*\n\s+tcr run \[--bundle DIR\] \[runc flags\] ID/);
    const docker = section(h, "docker's flags (run IMAGE):");
    const runc = section(h, "runc's flags (run [--bundle DIR] ID");
    for (const f of DOCKER_ONLY) {
      expect(docker).toContain(`${f} `);
      expect(runc).not.toContain(`${f} `);
    }
    for (const f of RUNC_ONLY) {
      expect(runc).toContain(f);
      expect(docker).not.toContain(f);
    }
    expect(docker).toContain('--detach');
    expect(h.indexOf("docker's flags")).toBeLessThan(h.indexOf("runc's flags"));
    expect(h).toContain('Which form a run is');
  });

  it("create: runc's flags only", () => {
    const h = help('create');
    for (const f of RUNC_ONLY.filter((x) => x !== '--keep')) expect(h).toContain(f);
    for (const f of [...DOCKER_ONLY, '--keep', '--detach']) expect(h).not.toContain(`${f} `);
  });

  it('ps: both forms in the usage, each flag saying which form it is for', () => {
    const h = help('ps');
    expect(h).toMatch(/Usage: tcr ps \[-a\].*docker's.*\n\s+tcr ps \[-f table\|json\] ID/);
    expect(h).toMatch(/--format <format>\s+with an ID \(runc's form\)/);
    expect(h).toMatch(/--all\s+without an ID \(docker's form\)/);
  });

  it('every option of every command has a description', () => {
    for (const c of buildProgram().commands as Command[])
      for (const o of c.options) expect(o.description, `${c.name()} ${o.flags}`).not.toBe('');
  });
});
