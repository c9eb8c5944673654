// The flags and arguments of the commands an engine runs for every container
// (create, start, state, kill, delete, and `run` of a bundle), as data. Both
// parsers read this one table: commander, which serves every command, and
// src/cli/fast-path.ts, which serves just these without loading commander.

/** One option in commander's syntax: '-b, --bundle <dir>', '--no-pivot', '-a, --all'. */
export interface FlagDef {
  flags: string;
  description: string;
  default?: string;
  /** the only values the option takes */
  choices?: string[];
}

export interface CommandShape {
  name: string;
  description: string;
  /** commander's argument syntax: '<id>', '[signal]', '<id...>' */
  args: string[];
  flags: FlagDef[];
}

/** Options before the sub-command name (enablePositionalOptions: never after it). */
export const GLOBAL_FLAGS: FlagDef[] = [
  { flags: '--root <dir>', description: 'directory for container state', default: '/run/tcr' },
  { flags: '--store <dir>', description: 'image store (default: $TCR_STORE, else /var/lib/tcr)' },
  { flags: '--log <file>', description: 'write log records to this file (default: stderr only)' },
  { flags: '--log-format <format>', description: 'log record format', default: 'text', choices: ['text', 'json'] },
  { flags: '--debug', description: 'log debug records' },
  { flags: '--systemd-cgroup', description: 'manage cgroups through systemd (needs a running systemd)' },
];

export const CREATE_FLAGS: FlagDef[] = [
  { flags: '-b, --bundle <dir>', description: 'bundle directory (config.json and rootfs)', default: '.' },
  { flags: '--pid-file <file>', description: 'write the init pid to this file' },
  { flags: '--no-pivot', description: 'do not use pivot_root (chroot into the rootfs instead)' },
  { flags: '--no-new-keyring', description: 'keep the session keyring of the runtime' },
  { flags: '--preserve-fds <n>', description: 'pass N extra fds (3..3+N-1) to the container' },
  { flags: '--console-socket <path>', description: 'unix socket that receives the pty master (terminal containers)' },
  { flags: '--trace', description: 'print each launch-plan step as the init executes it' },
  { flags: '--dry-run', description: 'print the launch plan and run nothing' },
];

/** The flags of `run` that a bundle run uses; the docker-style image flags come on top (src/cli/image-run.ts). */
export const BUNDLE_RUN_FLAGS: FlagDef[] = [
  ...CREATE_FLAGS,
  { flags: '-d, --detach', description: 'return once the container runs' },
  { flags: '--keep', description: 'keep the container recorded after it exits (bundle run)' },
];

export const SHAPES = {
  create: { name: 'create', description: 'create a container; its process waits for `start`', args: ['<id>'], flags: CREATE_FLAGS },
  start: { name: 'start', description: 'start the process of a created container', args: ['<id>'], flags: [] },
  state: { name: 'state', description: 'print the OCI state of a container', args: ['<id>'], flags: [] },
  kill: {
    name: 'kill',
    description: 'send a signal (default SIGTERM) to the container',
    args: ['<id>', '[signal]'],
    flags: [{ flags: '-a, --all', description: 'signal every process of the container' }],
  },
  delete: {
    name: 'delete',
    description: 'delete containers (and their resources)',
    args: ['<id...>'],
    flags: [{ flags: '-f, --force', description: 'kill the container first if it runs' }],
  },
  run: {
    name: 'run',
    description: 'create and start a container and wait for it: `run [--bundle B] ID` (runc) or `run [flags] IMAGE [CMD...]` (docker)',
    args: ['<id-or-image>', '[command...]'],
    flags: BUNDLE_RUN_FLAGS,
  },
} satisfies Record<string, CommandShape>;

export interface ParsedFlag {
  /** the option's key in commander's opts(): --pid-file → pidFile, --no-pivot → pivot */
  key: string;
  long: string;
  short?: string;
  takesValue: boolean;
  /** --no-X: sets X to false, and X defaults to true */
  negate: boolean;
}

/** A flag string read the way commander reads it. */
export function parseFlagDef(def: FlagDef): ParsedFlag {
  const parts = def.flags.split(/[ ,|]+/).filter(Boolean);
  const long = parts.find((p) => p.startsWith('--'));
  if (!long) throw new Error(`flag definition ${JSON.stringify(def.flags)} has no long name`);
  const short = parts.find((p) => /^-[^-]$/.test(p));
  const negate = long.startsWith('--no-');
  const name = negate ? long.slice(5) : long.slice(2);
  return {
    key: name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()),
    long,
    short,
    takesValue: parts.some((p) => p.startsWith('<')),
    negate,
  };
}
