// Where container state lives unless --root says otherwise: /run/tcr for
// root; for an ordinary user the runtime directory of their session, as runc
// keeps $XDG_RUNTIME_DIR/runc, so that each user has a root of their own.
import path from 'node:path';

export const ROOT_STATE_ROOT = '/run/tcr';

/** The default --root: /run/tcr, or $XDG_RUNTIME_DIR/tcr (/run/user/UID/tcr without it) for a user other than root. */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0): string {
  if (uid === 0) return ROOT_STATE_ROOT;
  return path.join(env.XDG_RUNTIME_DIR || `/run/user/${uid}`, 'tcr');
}
