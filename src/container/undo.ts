// Undoing a launch that failed half-way. Each step undoes one thing the launch
// made; a step that fails must neither stop the later ones (a cgroup that
// cannot be removed is no reason to leave the overlay mounted) nor replace the
// launch's own error, which is what the user has to act on. The failures of
// the undo are told after that error, and kept on it as `suppressed`.
import fs from 'node:fs';
import { errnoCode, errorMessage } from '../errors.js';
import { log } from '../log.js';

/** What one undo step undoes, for the message ("remove the cgroup"), and how. */
export type UndoStep = [what: string, undo: () => void | Promise<void>];

/** An error that undoing the failed launch could not fully clean up after. */
export interface WithSuppressed {
  suppressed?: unknown[];
}

/**
 * Runs every step in order, whatever the earlier ones did, and returns the
 * launch's error (the same object, for its type and exit code) with the
 * failures of the undo added to its message's tail.
 */
export async function undoFailedLaunch(launchError: unknown, steps: UndoStep[]): Promise<unknown> {
  const failed: { what: string; error: unknown }[] = [];
  for (const [what, undo] of steps) {
    try {
      await undo();
    } catch (error) {
      failed.push({ what, error });
    }
  }
  if (failed.length === 0) return launchError;
  const tail = failed.map((f) => `${f.what}: ${errorMessage(f.error)}`).join('; ');
  for (const f of failed)
    log.debug(`undoing the failed launch: ${f.what}: ${(f.error as Error | undefined)?.stack ?? errorMessage(f.error)}`);
  if (!(launchError instanceof Error)) return new Error(`${String(launchError)} (cleaning up also failed: ${tail})`);
  launchError.message += ` (cleaning up also failed: ${tail})`;
  // the message was already part of the stack's first line; keep the two in step
  if (launchError.stack)
    launchError.stack = `${launchError.name}: ${launchError.message}\n${launchError.stack.split('\n').slice(1).join('\n')}`;
  (launchError as Error & WithSuppressed).suppressed = failed.map((f) => f.error);
  return launchError;
}

/**
 * Removes a pid file this launch wrote, unless it no longer names our pid (a
 * later writer's file is not ours to remove). A file naming a pid that died
 * with the failed launch would send a supervisor's signals to whatever
 * process gets that pid next.
 */
export function removeOwnPidFile(file: string, pid: number): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return;
    throw e;
  }
  if (text.trim() === String(pid)) fs.unlinkSync(file);
}
