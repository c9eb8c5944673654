// The tcr commands that compose runs, each a child `tcr` process: compose
// does what a user would type (run -d, stop, rm, network create, logs), so
// every check and error of those commands applies unchanged, and a compose
// killed half-way leaves only what those commands made, labelled.
import { spawn, type StdioOptions } from 'node:child_process';
import { tcrLoader } from '../sys/package-root.js';

export interface Globals {
  root?: string;
  store?: string;
}

export interface ChildResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The children run without NODE_EXTRA_CA_CERTS as bin/tcr starts them (only a pull needs it, and run pulls through its own child). */
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: ca, ...env } = process.env;
  return ca === undefined ? env : { ...env, TCR_NODE_EXTRA_CA_CERTS: ca };
}

export function tcrArgv(g: Globals, args: string[]): string[] {
  return [tcrLoader(), ...(g.root ? ['--root', g.root] : []), ...(g.store ? ['--store', g.store] : []), ...args];
}

/** Runs `tcr ARGS`; output captured unless `stdio` says otherwise (then stdout/stderr are ""). */
export function tcr(g: Globals, args: string[], stdio: StdioOptions = ['ignore', 'pipe', 'pipe']): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, tcrArgv(g, args), { stdio, env: childEnv() });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? 128 + (signal ? 15 : 0), stdout, stderr }));
  });
}

/** A long-lived `tcr ARGS` (logs -f) whose output the caller reads. */
export function tcrStream(g: Globals, args: string[]) {
  return spawn(process.execPath, tcrArgv(g, args), { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
}
