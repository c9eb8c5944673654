// What `tcr run IMAGE [CMD...]` takes, the docker/podman way.
import type { NetworkFlags } from '../network/prepare.js';

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
  /** --platform os/arch[/variant]: the image of an index to take, and what a stored image must be */
  platform?: string;
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
