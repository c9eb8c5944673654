// Checks of `tcr run IMAGE` flags that must fail before anything is made (a
// container directory, a state dir, a cgroup): a name that could not be a
// directory or a container id, a memory limit the init could not even start
// under. The rules and limits are docker's, so a command line that docker
// takes tcr takes too, and one docker refuses tcr refuses with the reason.
import { TcrError } from '../errors.js';
import { parseBytes } from './units.js';

/** docker's container-name rule (daemon/names): at least two characters, the first a letter or digit. */
const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/**
 * `--name`: undefined or '' means "make one up", as docker and podman read an
 * empty --name. Anything else must match docker's rule; the name becomes a
 * directory in the store and the state root, so '/' or '..' must never pass.
 */
export function checkName(name: string | undefined): string | undefined {
  if (name === undefined || name === '') return undefined;
  if (!validName(name))
    throw new TcrError(
      `--name: invalid container name (${name}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters, the first a letter or digit`,
    );
  return name;
}

/** Whether `name` is a container name docker (and so tcr run) would make. */
export function validName(name: string): boolean {
  return NAME_PATTERN.test(name) && name.length <= 253;
}

/** docker's floor (linuxMinMemory): below it the container's own set-up does not fit, and the init is OOM-killed before it is ready. */
export const MIN_MEMORY = 6 * 1024 * 1024;

export interface MemoryLimits {
  /** bytes; undefined: no limit */
  limit?: number;
  /** memory plus swap in bytes, -1 unlimited; undefined: not set */
  swap?: number;
}

/**
 * `-m` and `--memory-swap` as docker reads them: `-m 0` (or none) is no
 * limit; a limit below 6 MiB is refused; memory-swap (memory plus swap)
 * defaults to twice the memory, -1 is unlimited swap, and it may be neither
 * smaller than the memory nor given without it.
 */
export function memoryLimits(memory: string | undefined, memorySwap: string | undefined): MemoryLimits {
  let limit: number | undefined;
  if (memory !== undefined) {
    const n = parseBytes(memory, '--memory');
    if (n < 0) throw new TcrError(`--memory: ${JSON.stringify(memory)} is not a size (e.g. 512m; 0 for no limit)`);
    if (n > 0 && n < MIN_MEMORY)
      throw new TcrError(`--memory: ${memory} (${n} bytes) is too small: the minimum memory limit is 6MB (${MIN_MEMORY} bytes)`);
    limit = n || undefined;
  }
  let swap: number | undefined;
  if (memorySwap !== undefined) swap = parseBytes(memorySwap, '--memory-swap') || undefined;
  if (swap !== undefined && limit === undefined)
    throw new TcrError(`--memory-swap ${memorySwap}: needs a memory limit too (-m/--memory); memory-swap is memory plus swap`);
  if (swap !== undefined && swap !== -1 && swap < limit!)
    throw new TcrError(
      `--memory-swap ${memorySwap}: must be at least the memory limit (-m ${memory}), since it is memory plus swap (-1: unlimited swap)`,
    );
  if (limit !== undefined && swap === undefined) swap = 2 * limit;
  return { limit, swap };
}
