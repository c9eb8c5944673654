// What `tcr run IMAGE [CMD...]` takes, the docker/podman way.
import type { NetworkFlags } from '../network/prepare.js';
import type { HealthFlags } from './health.js';

/** The network flags (--network, -p, -P, --dns, --add-host, --network-alias) are src/network/'s. */
export interface ImageRunOptions extends NetworkFlags {
  image: string;
  command: string[];
  name?: string;
  interactive?: boolean;
  tty?: boolean;
  detach?: boolean;
  rm?: boolean;
  env: string[];
  envFiles: string[];
  workdir?: string;
  user?: string;
  entrypoint?: string;
  hostname?: string;
  volumes: string[];
  /** --mount values */
  mounts: string[];
  tmpfs: string[];
  readOnly?: boolean;
  /** bytes; undefined: no limit */
  memory?: number;
  /** memory plus swap in bytes (-1: unlimited swap), docker's --memory-swap */
  memorySwap?: number;
  cpus?: number;
  pidsLimit?: number;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  pull?: 'missing' | 'always' | 'never';
  /** docker's --restart policy text (src/run/restart-policy.ts), kept by the monitor */
  restart?: string;
  /** docker's create: everything made, nothing launched until tcr start */
  createOnly?: boolean;
  /** the --health-* flags and --no-healthcheck (src/run/health.ts) */
  health?: HealthFlags;
  /** --platform os/arch[/variant]: the image of an index to take, and what a stored image must be */
  platform?: string;
  /** docker's host-config flags, as given (src/run/host-config.ts reads them) */
  host?: HostConfigFlags;
}

/** The values of --privileged, --device, --ulimit, --sysctl, the namespace modes, the cpu flags, ... as the command line gives them. */
export interface HostConfigFlags {
  privileged?: boolean;
  device: string[];
  shmSize?: string;
  ulimit: string[];
  sysctl: string[];
  ipc?: string;
  pid?: string;
  uts?: string;
  userns?: string;
  groupAdd: string[];
  cpuShares?: string;
  cpusetCpus?: string;
  cpusetMems?: string;
  cpuQuota?: string;
  cpuPeriod?: string;
  memoryReservation?: string;
  oomKillDisable?: boolean;
  oomScoreAdj?: string;
  stopSignal?: string;
  stopTimeout?: string;
  label: string[];
  labelFile: string[];
  cidfile?: string;
  init?: boolean;
  volumesFrom: string[];
}

export const HOST_FLAG_KEYS = [
  ...['privileged', 'device', 'shmSize', 'ulimit', 'sysctl', 'ipc', 'pid', 'uts', 'userns', 'groupAdd', 'cpuShares', 'cpusetCpus'],
  ...['cpusetMems', 'cpuQuota', 'cpuPeriod', 'memoryReservation', 'oomKillDisable', 'oomScoreAdj', 'stopSignal', 'stopTimeout'],
  ...['label', 'labelFile', 'cidfile', 'init', 'volumesFrom'],
] as (keyof HostConfigFlags)[];

/** The flags' defaults: what a run without any of them gets. */
export function noHostFlags(): HostConfigFlags {
  return { device: [], ulimit: [], sysctl: [], groupAdd: [], label: [], labelFile: [], volumesFrom: [] };
}

/** docker's default capability set for a container. */
export const DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

/** No network flags: a private loopback (tcr unpack's bundles, which an engine networks itself). */
export const NO_NETWORK: NetworkFlags = {
  network: 'none',
  publish: [],
  dns: [],
  dnsSearch: [],
  dnsOption: [],
  addHost: [],
  networkAlias: [],
};
