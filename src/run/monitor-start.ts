// The starting side of a container's monitor (src/run/monitor.ts): `run -d`
// and `start` spawn it detached (its own session, cwd /, its own output on
// monitor.log) and wait on a pipe for its one answer: launched, or the
// launch's error with docker's exit status, in which case nothing is left.
import fs from 'node:fs';
import path from 'node:path';
import type { Runtime } from '../container/runtime.js';
import { TcrError, type StepError } from '../errors.js';
import { PlanOp } from '../linux/plan-steps.js';
import { execFailureStatus } from '../linux/exit-status.js';
import { tcrLoader } from '../sys/package-root.js';

/**
 * docker's status for a launch that never reached the container's own: 127
 * when the command is not found, 126 when it cannot be executed, else 125.
 */
export function launchStatus(e: unknown): number {
  // by its fields: the launch's StepError may come from another of dist/'s bundles, with its own class
  const step = e as Partial<Pick<StepError, 'op' | 'errnoName'>>;
  if (e instanceof TcrError && typeof step.errnoName === 'string' && (step.op === PlanOp.findExec || step.op === PlanOp.exec))
    return execFailureStatus(step.errnoName);
  return 125;
}

/** A launch the monitor reported failed; `dockerStatus` is what the starter exits with. */
export class MonitorLaunchError extends TcrError {
  constructor(
    message: string,
    readonly dockerStatus: number,
  ) {
    super(message, dockerStatus);
  }
}

type Answer = { ok: true } | { ok: false; message: string; status: number };

/**
 * Spawns the monitor of container `id` (its launch.json written) and resolves once the container runs.
 * `onListening` (start -a): the monitor waits for an attach before it launches; this connects it.
 */
export async function startMonitor(rt: Runtime, storeRoot: string, id: string, onListening?: () => Promise<void>): Promise<void> {
  const { spawn } = await import('node:child_process');
  const dir = path.join(storeRoot, 'containers', id);
  // the monitor never reaches a registry: without NODE_EXTRA_CA_CERTS its node starts twice as fast (bin/tcr)
  const { NODE_EXTRA_CA_CERTS: _unused, ...env } = process.env;
  const out = fs.openSync(path.join(dir, 'monitor.log'), 'a', 0o640);
  const globals = ['--root', rt.store.root, '--store', storeRoot, ...(rt.systemdCgroup ? ['--systemd-cgroup'] : [])];
  let answer: Answer | undefined;
  try {
    const child = spawn(process.execPath, [tcrLoader(), ...globals, 'monitor', id], {
      // the monitor's parent until it answers: a monitor whose starter is gone launches nothing (monitor.ts)
      env: { ...env, TCR_MONITOR_STARTER: String(process.pid), ...(onListening ? { TCR_MONITOR_ATTACH: '1' } : {}) },
      detached: true,
      cwd: '/',
      stdio: ['ignore', out, out, 'pipe'],
    });
    const pipe = child.stdio[3] as import('node:stream').Readable;
    answer = await new Promise<Answer | undefined>((resolve, reject) => {
      let text = '';
      child.once('error', reject);
      pipe.setEncoding('utf8');
      pipe.on('data', (s: string) => {
        text += s;
        // a first line {"listening":true}: the attach socket is up, the launch waits for our client
        const nl = text.indexOf('\n');
        if (nl >= 0 && text.startsWith('{"listening"')) {
          text = text.slice(nl + 1);
          onListening?.().catch(reject);
        }
      });
      pipe.on('error', () => resolve(undefined));
      pipe.on('close', () => {
        try {
          resolve(JSON.parse(text) as Answer);
        } catch {
          resolve(undefined);
        }
      });
    });
    pipe.destroy();
    child.unref();
  } finally {
    fs.closeSync(out);
  }
  if (answer?.ok) return;
  if (answer) throw new MonitorLaunchError(answer.message, answer.status);
  // the monitor died before it answered: whatever it made of the container goes
  if (rt.store.exists(id) || fs.existsSync(rt.store.dir(id))) await rt.container(id).delete(true);
  const tail = fs.existsSync(path.join(dir, 'monitor.log'))
    ? fs.readFileSync(path.join(dir, 'monitor.log'), 'utf8').trim().split('\n').pop()
    : '';
  throw new TcrError(`the monitor of container ${id} exited before it launched it${tail ? `: ${tail}` : ''}`, 125);
}
