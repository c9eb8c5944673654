// How the command line fails before a command runs, and with which exit
// status: docker's commands exit 125 when tcr itself fails (a bad flag or
// value, a missing image, no root), as docker and podman do, so a script can
// tell that from a container's own status; runc's commands keep runc's 1.
import { TcrError, errorMessage } from '../errors.js';

/** Commands only docker has (runc has none of these names). */
const DOCKER_COMMANDS = new Set([
  'images',
  'pull',
  'load',
  'import',
  'rmi',
  'logs',
  'stop',
  'rm',
  'monitor',
  'restart',
  'attach',
  'tag',
  'network',
  'inspect',
  'container',
  'wait',
  'port',
  'top',
  'stats',
  'rename',
  'image',
  'system',
  'cp',
  'export',
  'save',
  'push',
  'login',
  'logout',
]);

/** docker's ps flags that take a value: their value is no container id. */
const PS_VALUE_FLAGS = new Set(['-n', '--last', '-f', '--filter', '--format']);

/** The positionals after the sub-command `name` in argv (flags and their values left out where known). */
function after(argv: string[], name: string): string[] {
  return argv.slice(argv.indexOf(name) + 1);
}

/**
 * Whether argv is one of docker's commands: the docker-only names, `ps`
 * without an id (docker's list; `ps ID` is runc's), and `run` without
 * --bundle (run-form.ts decides the rest; a bundle run's failures keep runc's 1).
 */
export function isDockerStyle(argv: string[], name: string | undefined): boolean {
  if (name === undefined) return false;
  if (DOCKER_COMMANDS.has(name)) return true;
  const rest = after(argv, name);
  if (name === 'ps') return !rest.some((a, i) => !a.startsWith('-') && !PS_VALUE_FLAGS.has(rest[i - 1]));
  if (name === 'run') return !rest.some((a) => a === '-b' || a === '--bundle' || a.startsWith('--bundle='));
  return false;
}

/** The exit status of a failure of tcr's own, for this command line. */
export function failureStatus(argv: string[], name: string | undefined, status = 1): number {
  return status === 1 && isDockerStyle(argv, name) ? 125 : status;
}

/** Commands that touch no state, store, namespace or cgroup: they work for any user. */
const NEEDS_NO_ROOT = new Set(['spec', 'features', 'help']);

/** runc's bundle commands, which an ordinary user runs as `runc --rootless` does (src/container/rootless.ts). */
const ROOTLESS_COMMANDS = new Set([
  'create',
  'start',
  'run',
  'exec',
  'kill',
  'delete',
  'state',
  'list',
  'ps',
  'pause',
  'resume',
  'events',
  'update',
]);

/**
 * docker's commands an ordinary user has, on a store of their own
 * ($XDG_DATA_HOME/tcr) and state in $XDG_RUNTIME_DIR/tcr, as rootless podman:
 * images are unpacked in a user namespace mapping their /etc/subuid range
 * (src/image/userns-exec.ts), containers run in one (src/run/rootless-image.ts).
 */
const ROOTLESS_IMAGE_COMMANDS = new Set([
  'images',
  'pull',
  'load',
  'import',
  'rmi',
  'tag',
  'image',
  'run',
  'ps',
  'logs',
  'stop',
  'rm',
  'exec',
  'kill',
  'start',
  'restart',
  'wait',
  'inspect',
  'volume',
  'attach',
  'port',
  'monitor', // run -d's, tcr's own
]);

/** What an ordinary user may run: runc's commands on bundles, and docker's that ROOTLESS_IMAGE_COMMANDS names. */
function rootlessForm(name: string): boolean {
  return ROOTLESS_IMAGE_COMMANDS.has(name) || ROOTLESS_COMMANDS.has(name);
}

/**
 * Refused up front for a user other than root, instead of failing later on
 * the first file of /run/tcr or /var/lib/tcr it cannot open: an ordinary user
 * has runc's bundle commands (rootless, state in $XDG_RUNTIME_DIR/tcr) and
 * the image commands above, not networks, compose or the transfers yet.
 */
export function requireRoot(argv: string[], name: string | undefined, uid = process.getuid?.()): void {
  if (uid === 0 || name === undefined || NEEDS_NO_ROOT.has(name)) return;
  // -h is help everywhere but in run, where it is docker's --hostname
  if (argv.includes('--help') || (name !== 'run' && argv.includes('-h'))) return;
  if (rootlessForm(name)) return;
  throw imageCommandsNeedRoot(`tcr ${name}`, uid, failureStatus(argv, name));
}

/** The refusal of a command an ordinary user does not have yet. */
export function imageCommandsNeedRoot(what: string, uid: number | undefined, status = 125): TcrError {
  return new TcrError(
    `${what} needs root (this is uid ${uid}; as an ordinary user tcr has the OCI runtime's bundle commands (tcr spec --rootless, then create, start, run --bundle, exec, kill, delete, state, list) and, in a store of your own, ${[...ROOTLESS_IMAGE_COMMANDS].filter((c) => c !== 'monitor').join(', ')}). Run it as root (su -c '...', or sudo where installed)`,
    status,
  );
}

/** Edit distance with adjacent transpositions (strat → start is one edit). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * The names (commands, or flags without their dashes) a mistyped `word` is
 * close to: one edit away (two for long words) and with the same first
 * letter, so that a typo is caught but a different word that happens to be
 * near (top, stop; frce, trace) is not offered.
 */
export function closeCommands(word: string, commands: string[]): string[] {
  const limit = word.length >= 7 ? 2 : 1;
  const scored = commands
    .map((c) => ({ c, d: editDistance(word, c) }))
    .filter((x) => x.c[0] === word[0] && x.d <= limit && word.length >= 2);
  const best = Math.min(...scored.map((x) => x.d));
  return scored.filter((x) => x.d === best).map((x) => x.c);
}

/** The error for an unknown sub-command: what does that job here, or the close names, or none. */
export function unknownCommand(word: string, commands: string[]): TcrError {
  const close = closeCommands(word, commands);
  const hint = close.length ? ` (did you mean ${close.join(' or ')}?)` : '';
  return new TcrError(`unknown command ${JSON.stringify(word)}${hint}; tcr --help lists the commands`);
}

/** docker's network and volume commands exit 125 when they fail: tcr's own errors keep their message, get that status. */
export function dockerExit<A extends unknown[]>(fn: (...a: A) => Promise<void>): (...a: A) => Promise<void> {
  return async (...a: A) => {
    try {
      await fn(...a);
    } catch (e) {
      throw new TcrError(errorMessage(e), 125, { cause: e });
    }
  };
}
