// The flags and arguments of the commands an engine runs for every container
// (create, start, state, kill, delete) and of `run` (runc's and docker's), as data. Both
// parsers read this one table: commander, which serves every command, and
// src/cli/fast-path.ts, which serves just these without loading commander.
import { defaultStateRoot } from '../container/state-root.js';

/** One option in commander's syntax: '-b, --bundle <dir>', '--no-pivot', '-a, --all'. */
export interface FlagDef {
  flags: string;
  description: string;
  default?: string;
  /** the only values the option takes */
  choices?: string[];
  /** may be given again: the values collect into an array (default []) */
  repeatable?: boolean;
  /** the heading --help lists it under (default: Options) */
  group?: string;
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
  { flags: '--root <dir>', description: 'directory for container state', default: defaultStateRoot() },
  { flags: '--store <dir>', description: 'image store (default: $TCR_STORE, else /var/lib/tcr; for a user $XDG_DATA_HOME/tcr)' },
  { flags: '--log <file>', description: 'write log records to this file (default: stderr only)' },
  { flags: '--log-format <format>', description: 'log record format', default: 'text', choices: ['text', 'json'] },
  { flags: '--debug', description: 'log debug records' },
  { flags: '--systemd-cgroup', description: 'manage cgroups through systemd (needs a running systemd)' },
  {
    flags: '--rootless <value>',
    description: "as runc: true, a cgroup only where one is delegated; auto, so for a user or root of a user's namespace",
    default: 'auto',
    choices: ['true', 'false', 'auto'],
  },
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
  {
    flags: '--trace-file <file>',
    description: 'write the launch trace to FILE: a timeline picture (.svg) or its data (.json); also --trace=FILE',
  },
];

/** The flags of `run` that a bundle run uses; docker's image flags come on top. */
export const BUNDLE_RUN_FLAGS: FlagDef[] = [
  ...CREATE_FLAGS,
  { flags: '-d, --detach', description: 'return once the container runs (an image run prints its id)' },
  { flags: '--keep', description: "keep the container recorded after it exits (docker's form: without --rm)" },
];

/** docker's `run` flags, for `tcr run IMAGE [CMD...]` (src/cli/docker-commands.ts). */
export const IMAGE_RUN_FLAGS: FlagDef[] = [
  { flags: '-i, --interactive', description: 'keep stdin open' },
  { flags: '-t, --tty', description: 'give the process a terminal' },
  { flags: '--rm', description: 'remove the container when it exits' },
  { flags: '--name <name>', description: 'the container name (default: a random id)' },
  { flags: '-e, --env <NAME=value>', description: 'set an environment variable (repeatable)', repeatable: true },
  { flags: '--env-file <file>', description: 'read NAME=value lines from a file (repeatable)', repeatable: true },
  { flags: '-w, --workdir <dir>', description: 'working directory in the container' },
  { flags: '-u, --user <user[:group]>', description: 'user (name or uid) and group' },
  { flags: '--entrypoint <cmd>', description: 'replace the image entrypoint' },
  // -h is docker's --hostname: `run` has --help only
  { flags: '-h, --hostname <name>', description: 'container host name' },
  {
    flags: '-v, --volume <[src:]ctr[:opts]>',
    description: 'mount a volume (NAME:/path, made on first use; /path: an anonymous one) or a host path (/abs or ./rel) (repeatable)',
    repeatable: true,
  },
  {
    flags: '--mount <type=...,target=...>',
    description:
      'type=bind|volume|tmpfs,source=S,target=T[,readonly][,bind-propagation=P|volume-nocopy|tmpfs-size=N,tmpfs-mode=M] (repeatable)',
    repeatable: true,
  },
  { flags: '--tmpfs <path[:opts]>', description: 'mount a tmpfs (repeatable)', repeatable: true },
  { flags: '--read-only', description: 'make the root filesystem read-only' },
  { flags: '-m, --memory <bytes>', description: 'memory limit (e.g. 512m; at least 6m; 0: none)' },
  { flags: '--memory-swap <bytes>', description: 'memory plus swap (default: twice --memory; -1: unlimited swap)' },
  { flags: '--cpus <n>', description: 'CPU limit (e.g. 0.5)' },
  { flags: '--pids-limit <n>', description: 'process count limit' },
  { flags: '--cap-add <cap>', description: 'add a capability (repeatable, ALL)', repeatable: true },
  { flags: '--cap-drop <cap>', description: 'drop a capability (repeatable, ALL)', repeatable: true },
  { flags: '--security-opt <opt>', description: 'no-new-privileges, seccomp=unconfined|FILE (repeatable)', repeatable: true },
  {
    flags: '--network <mode>',
    description: 'bridge (NAT, the default), NAME (a tcr network create one), host, none (a private loopback), container:NAME',
    default: 'bridge',
  },
  {
    flags: '-p, --publish <[ip:]host:ctr[/udp]>',
    description: 'publish a container port on the host (repeatable; bridge networks)',
    repeatable: true,
  },
  { flags: '-P, --publish-all', description: 'publish every port the image EXPOSEs on a free host port' },
  { flags: '--network-alias <name>', description: 'another name of the container on a user network (repeatable)', repeatable: true },
  { flags: '--dns <ip>', description: "a name server for /etc/resolv.conf (repeatable; default: the host's)", repeatable: true },
  { flags: '--dns-search <domain>', description: 'a search domain for /etc/resolv.conf (repeatable)', repeatable: true },
  { flags: '--dns-option <opt>', description: 'an option line entry for /etc/resolv.conf (repeatable)', repeatable: true },
  { flags: '--add-host <name:ip>', description: 'a line of /etc/hosts (repeatable; ip host-gateway: the bridge)', repeatable: true },
  { flags: '--pull <policy>', description: 'when to pull the image', choices: ['missing', 'always', 'never'], default: 'missing' },
  // docker's HostConfig flags (src/run/host-config.ts)
  { flags: '--privileged', description: 'all capabilities and host devices, no seccomp, no masked paths, /sys writable' },
  { flags: '--device <host[:ctr][:rwm]>', description: 'give the container a host device (repeatable)', repeatable: true },
  { flags: '--shm-size <bytes>', description: 'size of /dev/shm (default 64m)' },
  { flags: '--ulimit <name=soft[:hard]>', description: 'a resource limit, e.g. nofile=1024:2048 (repeatable)', repeatable: true },
  {
    flags: '--sysctl <name=value>',
    description: 'a namespaced kernel setting: kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.* (repeatable)',
    repeatable: true,
  },
  { flags: '--ipc <mode>', description: 'IPC namespace: private (default), shareable, host, container:NAME' },
  { flags: '--pid <mode>', description: 'PID namespace: host, container:NAME (default: its own)' },
  { flags: '--uts <mode>', description: "UTS namespace: host (the host's host name; default: its own)" },
  { flags: '--userns <mode>', description: 'user namespace: host (tcr maps no users: the only mode)' },
  {
    flags: '--group-add <group>',
    description: "a supplementary group (name in the image's /etc/group, or gid) (repeatable)",
    repeatable: true,
  },
  { flags: '--cpu-shares <n>', description: 'CPU weight (default 1024)' },
  { flags: '--cpuset-cpus <list>', description: 'CPUs it may run on (e.g. 0-1,3)' },
  { flags: '--cpuset-mems <list>', description: 'memory nodes it may use (e.g. 0)' },
  { flags: '--cpu-quota <us>', description: 'CFS quota in microseconds per period (-1: none)' },
  { flags: '--cpu-period <us>', description: 'CFS period in microseconds (1000 to 1000000)' },
  { flags: '--memory-reservation <bytes>', description: 'memory soft limit' },
  { flags: '--oom-kill-disable', description: 'do not OOM-kill its processes' },
  { flags: '--oom-score-adj <n>', description: 'OOM score adjustment (-1000 to 1000)' },
  { flags: '--stop-signal <signal>', description: 'the signal tcr stop sends (default: the image StopSignal, else SIGTERM)' },
  { flags: '--stop-timeout <seconds>', description: 'seconds tcr stop waits before SIGKILL (default 10)' },
  { flags: '-l, --label <key=value>', description: 'a container label (repeatable)', repeatable: true },
  { flags: '--label-file <file>', description: 'read KEY=VALUE label lines from a file (repeatable)', repeatable: true },
  { flags: '--cidfile <file>', description: 'write the container id to this file (which must not exist)' },
  { flags: '--init', description: 'run an init (tini, as /sbin/docker-init) as PID 1 that forwards signals and reaps zombies' },
  { flags: '--volumes-from <name[:ro|rw]>', description: "mount another container's volumes and binds (repeatable)", repeatable: true },
  { flags: '--restart <policy>', description: 'no, on-failure[:N], always or unless-stopped: restarted by its monitor (-d only)' },
  { flags: '--health-cmd <cmd>', description: 'a health check run in the container by its monitor (sh -c CMD; -d only)' },
  { flags: '--health-interval <duration>', description: 'time between health checks (default 30s)' },
  { flags: '--health-timeout <duration>', description: 'time a health check may take (default 30s)' },
  { flags: '--health-retries <n>', description: 'failures in a row that make it unhealthy (default 3)' },
  { flags: '--health-start-period <duration>', description: 'time in which failures do not count (default 0s)' },
  { flags: '--no-healthcheck', description: "disable the image's health check" },
  { flags: '--platform <os/arch[/variant]>', description: 'the image of a multi-platform index to run (default: this machine)' },
];

export const SHAPES = {
  create: { name: 'create', description: 'create a container; its process waits for `start`', args: ['<id>'], flags: CREATE_FLAGS },
  start: {
    name: 'start',
    description: 'start the process of a created container (or run a stopped image container again)',
    args: ['<id>'],
    flags: [
      { flags: '-a, --attach', description: 'an image container: print its output until it stops, exit with its status' },
      { flags: '-i, --interactive', description: 'an image container: forward stdin (with -a implied)' },
      { flags: '--detach-keys <keys>', description: 'an image container with -a or -i: the keys that detach (default ctrl-p,ctrl-q)' },
    ],
  },
  state: { name: 'state', description: 'print the OCI state of a container', args: ['<id>'], flags: [] },
  list: {
    name: 'list',
    description: 'list containers',
    args: [],
    flags: [
      { flags: '-f, --format <format>', description: 'table or json', default: 'table' },
      { flags: '-q, --quiet', description: 'print only the ids' },
    ],
  },
  kill: {
    name: 'kill',
    description: 'send a signal to the container (default SIGTERM; for an image container SIGKILL, as docker kill)',
    args: ['<id>', '[signal]'],
    flags: [
      { flags: '-a, --all', description: 'signal every process of the container' },
      { flags: '-s, --signal <signal>', description: "the signal, docker's way (the same as the second argument)" },
    ],
  },
  delete: {
    name: 'delete',
    description: 'delete containers (and their resources)',
    args: ['<id...>'],
    flags: [{ flags: '-f, --force', description: 'kill the container first if it runs' }],
  },
  run: {
    name: 'run',
    description: "create and start a container and wait for it: docker's run of an image, or runc's of a bundle",
    args: ['<id-or-image>', '[command...]'],
    // docker's first, as --help lists them (src/cli/run-help.ts)
    flags: [
      ...[BUNDLE_RUN_FLAGS.find((f) => f.flags.includes('--detach'))!, ...IMAGE_RUN_FLAGS].map((f) => ({
        ...f,
        group: "docker's flags (run IMAGE):",
      })),
      ...BUNDLE_RUN_FLAGS.filter((f) => !f.flags.includes('--detach')).map((f) => ({
        ...f,
        group: "runc's flags (run [--bundle DIR] ID; -d/--detach too):",
      })),
    ],
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
