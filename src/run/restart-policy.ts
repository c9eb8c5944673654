// docker's --restart: what the monitor (src/run/monitor.ts) does when the
// container exits, and how long it waits first. The backoff is docker's:
// 100 ms, doubled at each restart up to a minute, back to 100 ms once a run
// lasted 10 s.
import { TcrError } from '../errors.js';

export type RestartPolicy =
  | { name: 'no' }
  | { name: 'always' }
  | { name: 'unless-stopped' }
  /** maxRetries 0: no limit */
  | { name: 'on-failure'; maxRetries: number };

export const NO_RESTART: RestartPolicy = { name: 'no' };

export function parseRestartPolicy(text: string | undefined): RestartPolicy {
  if (text === undefined || text === '' || text === 'no') return NO_RESTART;
  if (text === 'always' || text === 'unless-stopped') return { name: text };
  const m = /^on-failure(?::(.*))?$/.exec(text);
  if (m) {
    if (m[1] === undefined) return { name: 'on-failure', maxRetries: 0 };
    if (!/^\d+$/.test(m[1]))
      throw new TcrError(`--restart ${JSON.stringify(text)}: the retry count after on-failure: is not a whole number`, 125);
    return { name: 'on-failure', maxRetries: Number(m[1]) };
  }
  if (/^(no|always|unless-stopped):/.test(text))
    throw new TcrError(`--restart ${JSON.stringify(text)}: only on-failure takes a retry count`, 125);
  throw new TcrError(`--restart ${JSON.stringify(text)}: not a policy (no, on-failure[:N], always, unless-stopped)`, 125);
}

export function policyText(p: RestartPolicy): string {
  return p.name === 'on-failure' && p.maxRetries ? `on-failure:${p.maxRetries}` : p.name;
}

/** Whether a container that exited with `code` runs again, `restarts` restarts in; a stop someone asked for is never undone. */
export function shouldRestart(p: RestartPolicy, code: number, restarts: number, stopAsked: boolean): boolean {
  if (stopAsked) return false;
  switch (p.name) {
    case 'no':
      return false;
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return code !== 0 && (p.maxRetries === 0 || restarts < p.maxRetries);
  }
}

const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 60_000;
/** a run at least this long starts the backoff over */
const STEADY_RUN_MS = 10_000;

export class Backoff {
  private delay = 0;

  /** The wait before the next start, given how long the run that just ended lasted. */
  next(ranMs: number): number {
    if (ranMs >= STEADY_RUN_MS || this.delay === 0) this.delay = FIRST_DELAY_MS;
    else this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
    return this.delay;
  }
}
