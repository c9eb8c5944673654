// Where container state lives unless --root says otherwise: /run/tcr for
// root; for an ordinary user the runtime directory of their session, as runc
// keeps $XDG_RUNTIME_DIR/runc, so that each user has a root of their own.
// Root of a user namespace that is not the host's (rootless podman runs its
// runtime so) is an ordinary user to the host and cannot write /run: it too
// gets $XDG_RUNTIME_DIR/tcr, unless $USER says root (runc's
// shouldHonorXDGRuntimeDir: root in a container keeps /run/tcr).
import path from 'node:path';
import { inUserNamespace } from '../linux/userns.js';

export const ROOT_STATE_ROOT = '/run/tcr';

/** The default --root: /run/tcr, or $XDG_RUNTIME_DIR/tcr (/run/user/UID/tcr without it) for a user other than root. */
export function defaultStateRoot(env: NodeJS.ProcessEnv = process.env, uid = process.geteuid?.() ?? 0, userns = inUserNamespace): string {
  if (uid === 0) {
    if (env.XDG_RUNTIME_DIR && env.USER !== 'root' && userns()) return path.join(env.XDG_RUNTIME_DIR, 'tcr');
    return ROOT_STATE_ROOT;
  }
  return path.join(env.XDG_RUNTIME_DIR || `/run/user/${uid}`, 'tcr');
}
