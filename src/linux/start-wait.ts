// Which side of the exec fifo waits for the other: shared by the launch
// plan (the init's fifo step) and `start` (src/container/container.ts), in a
// module of its own so that `start` does not load the launch plan's.
import type { Spec } from '../spec/types.js';

/**
 * Whether `start` waits for the program's exec before it returns: only to run
 * poststart hooks after it, as the spec orders. Otherwise the init waits for
 * `start` to exit instead, as a shim that watches OOM from start's return needs.
 */
export function startWaitsForExec(hooks: Spec['hooks']): boolean {
  return !!hooks?.poststart?.length;
}
