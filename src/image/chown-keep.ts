// A chown in a user namespace that maps only the user's own id: any other
// owner is outside the map (EINVAL), and the file stays the user's, as
// podman's ignore_chown_errors does (src/image/userns-exec.ts sets the flag).
import { errnoCode } from '../errors.js';
import { log } from '../log.js';

/** Set in the unpacking child when only the user's own id is mapped. */
export const IGNORE_CHOWN_ENV = 'TCR_IGNORE_CHOWN_ERRORS';

let warned = false;

/** Runs `chown`; where the flag is set, an owner outside the map keeps the file the user's, warned once. */
export function chownOrKeep(chown: () => void, file: string | Buffer): void {
  try {
    chown();
  } catch (e) {
    if (process.env[IGNORE_CHOWN_ENV] !== '1' || errnoCode(e) !== 'EINVAL') throw e;
    if (!warned) log.warn(`${file.toString()}: its owner is not mapped in this user namespace; it and others like it are stored as yours`);
    warned = true;
  }
}
