// The exit status of a container whose program never ran: the one place it
// is decided. docker, podman and POSIX shells give 127 when the program is
// not there and 126 when it cannot be executed; the runtime's own failures
// are 125 for docker-style commands (src/cli/docker-commands.ts).

/** errnos of a failed lookup or exec that mean "not found" (Linux's numbers, the same on every architecture) */
const NOT_FOUND: Record<string, number> = { ENOENT: 2, ENOTDIR: 20 };
export const STATUS_NOT_FOUND = 127;
export const STATUS_CANNOT_EXECUTE = 126;

/** The status for a program that failed to start with `errnoName`. */
export function execFailureStatus(errnoName: string): number {
  return errnoName in NOT_FOUND ? STATUS_NOT_FOUND : STATUS_CANNOT_EXECUTE;
}

/**
 * The plan header's word for the executor's own exit when a step fails
 * after the runtime stopped listening (nobody reads its record then): two
 * errnos, the status for them and the status for any other (native/plan.h,
 * late_exit). The executor applies it and decides nothing.
 */
export function lateExitWord(): number {
  const [a, b] = Object.values(NOT_FOUND);
  return (a | (b << 8) | (STATUS_NOT_FOUND << 16) | (STATUS_CANNOT_EXECUTE << 24)) >>> 0;
}
