// Hooks that run in the runtime's namespaces (prestart, createRuntime,
// poststart, poststop), each fed the container's state JSON on stdin.
// createContainer and startContainer run inside the container: the launch
// plan carries those.
import { spawnSync } from 'node:child_process';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import type { Hook, HookName, OciState } from '../spec/types.js';

/** prestart and createRuntime: the first hook that fails fails the create. */
export function runHooks(kind: HookName, hooks: Hook[] | undefined, state: OciState): void {
  (hooks ?? []).forEach((h, i) => runHook(kind, h, i, state));
}

/**
 * poststart and poststop: a hook that fails is warned of, and the hooks after
 * it still run (the spec: the lifecycle goes on as if it had succeeded).
 */
export function runHooksPastFailures(kind: HookName, hooks: Hook[] | undefined, state: OciState, warn: (message: string) => void): void {
  (hooks ?? []).forEach((h, i) => {
    try {
      runHook(kind, h, i, state);
    } catch (e) {
      warn(errorMessage(e));
    }
  });
}

function runHook(kind: HookName, h: Hook, i: number, state: OciState): void {
  const argv = h.args?.length ? h.args : [h.path];
  const r = spawnSync(h.path, argv.slice(1), {
    argv0: argv[0],
    input: JSON.stringify(state),
    env: Object.fromEntries((h.env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
    timeout: h.timeout ? h.timeout * 1000 : undefined,
    killSignal: 'SIGKILL',
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 1 << 20,
  });
  const what = `${kind} hook ${i} (${h.path})`;
  // A hook may exit, or close its stdin, without reading the state: the rest
  // of the write then fails with EPIPE. That is the hook's right (runc lets it
  // be); what counts is how it exited, which spawnSync still reports.
  const brokenPipe = errnoCode(r.error) === 'EPIPE' && (r.status !== null || r.signal !== null);
  if (r.error && !brokenPipe) {
    const code = errnoCode(r.error);
    if (code === 'ETIMEDOUT') throw new TcrError(`${what}: timed out after ${h.timeout}s`);
    throw new TcrError(`${what}: ${r.error.message}`);
  }
  if (r.signal)
    throw new TcrError(`${what}: ${r.signal === 'SIGKILL' && h.timeout ? `timed out after ${h.timeout}s` : `killed by ${r.signal}`}`);
  if (r.status !== 0) {
    const err = r.stderr.toString().trim();
    throw new TcrError(`${what}: exit status ${r.status}${err ? `: ${err}` : ''}`);
  }
}
