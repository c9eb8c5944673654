// A compose project after loading: every short form of the Compose
// Specification written out in one long form, so that `up` and `config`
// never look at YAML again.

export interface PortSpec {
  /** host address, "" for all */
  hostIp: string;
  /** host port or range ("8080", "8000-8001"); "" for one the kernel picks */
  published: string;
  /** container port or range */
  target: string;
  protocol: 'tcp' | 'udp';
}

export interface VolumeMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** a volume's name as the file gives it (before the project prefix), a bind's absolute host path; undefined: anonymous volume or tmpfs */
  source?: string;
  target: string;
  readOnly: boolean;
  /** tmpfs size in bytes */
  tmpfsSize?: number;
  /** volume.nocopy: no copy of the image's content on first use */
  noCopy?: boolean;
}

export interface Healthcheck {
  /** docker's form: ["CMD", ...], ["CMD-SHELL", "..."] or ["NONE"] */
  test?: string[];
  /** durations as compose writes them ("30s", "1m30s") */
  interval?: string;
  timeout?: string;
  startPeriod?: string;
  retries?: number;
  disable: boolean;
}

export type DependCondition = 'service_started' | 'service_healthy' | 'service_completed_successfully';

export interface ServiceNetwork {
  aliases: string[];
  ipv4Address?: string;
}

export interface Service {
  name: string;
  image: string;
  /** undefined: the image's */
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  ports: PortSpec[];
  expose: string[];
  volumes: VolumeMount[];
  /** network name (before the project prefix) → its settings; empty with networkMode */
  networks: Record<string, ServiceNetwork>;
  /** "host", "none", "service:NAME", "container:NAME" */
  networkMode?: string;
  dependsOn: Record<string, { condition: DependCondition; required: boolean }>;
  healthcheck?: Healthcheck;
  restart?: string;
  replicas: number;
  /** bytes */
  memLimit?: number;
  memswapLimit?: number;
  memReservation?: number;
  cpus?: number;
  pidsLimit?: number;
  readOnly: boolean;
  tmpfs: string[];
  capAdd: string[];
  capDrop: string[];
  user?: string;
  workingDir?: string;
  hostname?: string;
  containerName?: string;
  labels: Record<string, string>;
  init: boolean;
  privileged: boolean;
  stopSignal?: string;
  /** seconds */
  stopGracePeriod?: number;
  extraHosts: string[];
  dns: string[];
  tty: boolean;
  stdinOpen: boolean;
  shmSize?: number;
  securityOpt: string[];
  devices: string[];
  sysctls: Record<string, string>;
  ulimits: Record<string, { soft: number; hard: number }>;
  platform?: string;
  pullPolicy?: 'always' | 'missing' | 'never';
}

export interface NetworkDef {
  /** the name on the host: "<project>_<key>" unless `name:` or external says otherwise */
  name: string;
  external: boolean;
  internal: boolean;
  subnet?: string;
  gateway?: string;
  labels: Record<string, string>;
}

export interface VolumeDef {
  name: string;
  external: boolean;
  labels: Record<string, string>;
}

export interface Project {
  name: string;
  /** the directory relative paths in the file are taken from */
  workingDir: string;
  files: string[];
  services: Service[];
  /** key as the file writes it → definition; "default" is always there */
  networks: Record<string, NetworkDef>;
  volumes: Record<string, VolumeDef>;
}
