// Helpers shared by the integration test files (on top of test/helpers.ts):
// unique ids, detached containers whose stdio goes to a file (so no pipe
// keeps a synchronous spawn waiting), asynchronous tcr processes, and the
// "nothing left behind" check.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import type { Spec } from '../../src/spec/types.js';
import { Sandbox, TCR, mountsUnder, pidsWithRootUnder, type Result } from '../helpers.js';

let counter = 0;
/** A container id unique within this test process. */
export function uniqueId(prefix = 'c'): string {
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36)}${(counter++).toString(36)}`;
}

/** A bundle whose process is `sh -c script`. */
export function shBundle(sb: Sandbox, name: string, script: string, edit: (s: Spec) => void = () => {}): string {
  return sb.bundle(name, (s) => {
    s.process!.args = ['sh', '-c', script];
    edit(s);
  });
}

/**
 * Runs tcr synchronously with the container's stdio on a file (not a pipe:
 * a container that outlives the command would keep a pipe open and the
 * synchronous spawn waiting). The file's text is returned as stdout/stderr.
 */
export function tcrToFile(sb: Sandbox, args: string[], file = path.join(sb.dir, `out-${uniqueId('f')}.log`)): Result & { file: string } {
  const fd = fs.openSync(file, 'a');
  try {
    const r = sb.tcr(args, { stdio: ['ignore', fd, fd] });
    const text = fs.readFileSync(file, 'utf8');
    return { ...r, stdout: text, stderr: text, file };
  } finally {
    fs.closeSync(fd);
  }
}

/** `tcr create` of `sh -c script`; returns the id and the output file. */
export function createContainer(
  sb: Sandbox,
  script: string,
  edit: (s: Spec) => void = () => {},
  extra: string[] = [],
): { id: string; bundle: string; file: string; result: Result } {
  const id = uniqueId();
  const bundle = shBundle(sb, id, script, edit);
  const r = tcrToFile(sb, ['create', '--bundle', bundle, ...extra, id]);
  return { id, bundle, file: r.file, result: r };
}

/** `tcr run --detach --pid-file` of `sh -c script`; fails the test if it does not start. */
export function runDetached(
  sb: Sandbox,
  script: string,
  edit: (s: Spec) => void = () => {},
): { id: string; pid: number; bundle: string; file: string } {
  const id = uniqueId();
  const bundle = shBundle(sb, id, script, edit);
  const pidFile = path.join(sb.dir, `${id}.pid`);
  const r = tcrToFile(sb, ['run', '--detach', '--pid-file', pidFile, '--bundle', bundle, id]);
  expect(r.stdout).not.toContain('tcr:');
  expect(r.status).toBe(0);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  expect(alive(pid)).toBe(true);
  return { id, pid, bundle, file: r.file };
}

/** `tcr state ID` parsed. */
export function state(sb: Sandbox, id: string): Record<string, unknown> {
  const r = sb.tcr(['state', id]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

export interface AsyncResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts tcr without waiting; `done` resolves when it exits. */
export function spawnTcr(
  sb: Sandbox,
  args: string[],
  stdio: StdioOptions = ['ignore', 'pipe', 'pipe'],
): { child: ChildProcess; done: Promise<AsyncResult> } {
  const child = spawn(TCR, ['--root', sb.root, ...args], { stdio });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => (stdout += d));
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<AsyncResult>((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Polls until cond() is true, or fails after timeoutMs. */
export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition', pollMs = 10): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** Nothing of container `id` remains: no state dir, no mount and no process under the sandbox. */
export function expectNothingLeft(sb: Sandbox, id?: string): void {
  if (id !== undefined) expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
  else expect(fs.existsSync(sb.root) ? fs.readdirSync(sb.root) : []).toEqual([]); // nothing at all: an engine owns its runtime root
  expect(mountsUnder(sb.dir)).toEqual([]);
  expect(pidsWithRootUnder(sb.dir)).toEqual([]);
}

/** True while pid names a live (non-zombie) process. */
export function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const s = st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3);
    return s !== 'Z' && s !== 'X';
  } catch {
    return false;
  }
}

/** Kills a process this test started (by pid) if it still lives. */
export function killPid(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** When to SIGKILL: `delay` ms after the start, or `then` ms after `when()` first holds (looked at every 5 ms). */
export type KillMoment = number | { when: () => boolean; then: number };

/**
 * Runs tcr with `args`, SIGKILLed at `moment` unless it ended first; true if it was killed. The crash-safety tests' probe.
 * `atKill` runs as the kill is sent, to see what the killed process had done by then (what came after may undo it).
 */
export async function killedAfter(args: string[], moment: KillMoment, atKill?: () => void): Promise<boolean> {
  const child = spawn(TCR, args, { stdio: 'ignore' });
  let timer: NodeJS.Timeout | undefined;
  let poll: NodeJS.Timeout | undefined;
  const exited = await new Promise<boolean>((resolve) => {
    const kill = () => {
      child.kill('SIGKILL');
      atKill?.();
      resolve(false);
    };
    if (typeof moment === 'number') timer = setTimeout(kill, moment);
    else
      poll = setInterval(() => {
        if (!moment.when()) return;
        clearInterval(poll);
        timer = setTimeout(kill, moment.then);
      }, 5);
    child.on('exit', () => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!exited) await new Promise((r) => child.on('exit', r));
  return !exited;
}
