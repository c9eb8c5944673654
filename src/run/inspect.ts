// `tcr inspect ID`: a container in the shape of docker's `docker inspect`
// (the fields scripts read), built from its state record, the spec it was
// created from (with the `dev.tcr.run` annotation for what the merged spec no
// longer tells apart: Entrypoint from Cmd, the --network mode) and its exit record.
import path from 'node:path';
import type { ContainerRecord } from '../container/state-store.js';
import type { Status } from '../container/status.js';
import type { ExitRecord } from '../container/exit-record.js';
import { hostConfigFields, type HostNote } from './inspect-host.js';
import { addressOf, attachmentsOf, type NetworkRecord, type PortMapping } from '../network/record.js';

/** Docker's zero time, which its inspect prints for a time that never came. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** The `dev.tcr.run` annotation that image-spec.ts writes. */
interface RunNote {
  entrypoint: string[];
  cmd: string[];
  network: string;
  labels: Record<string, string>;
  user: string;
  /** run -d: no tcr process stays to see the exit status */
  detached?: boolean;
  /** --stop-signal, else the image's StopSignal: what `tcr stop` sends */
  stopSignal?: string;
  /** --stop-timeout: seconds `tcr stop` waits before SIGKILL (default 10) */
  stopTimeout?: number;
  /** the HostConfig modes of the run (src/run/inspect-host.ts) */
  host?: HostNote;
  /** the published ports as resolved at the run (absent in containers made before they were noted) */
  ports?: PortMapping[];
}

export interface InspectSource {
  rec: ContainerRecord;
  status: Status;
  exit?: ExitRecord;
  /** the name it goes by when rename gave it one other than its id (src/container/names.ts) */
  name?: string;
  /** <store>/volumes: a bind mount from under it is a volume */
  volumesRoot: string;
  /** what the monitor of a run -d container keeps (src/run/monitor-files.ts) */
  monitor?: { restartCount: number; restartPolicy: { Name: string; MaximumRetryCount: number }; health?: unknown };
}

export function runNote(rec: ContainerRecord): RunNote | undefined {
  const text = rec.config.annotations?.['dev.tcr.run'];
  return text ? (JSON.parse(text) as RunNote) : undefined;
}

/**
 * The ports published now: a bridge's, from its network record; slirp4netns' are in no record, published
 * while the container runs, as its run noted them.
 */
export function publishedPorts(rec: ContainerRecord, status: Status): PortMapping[] {
  if (rec.network) return rec.network.portMappings ?? [];
  const note = runNote(rec);
  return (status === 'running' || status === 'paused') && note?.network === 'slirp4netns' ? (note.ports ?? []) : [];
}

/** docker's State.Status words: tcr's "stopped" is its "exited", "creating" is still "created". */
function dockerStatus(s: Status): string {
  return s === 'stopped' ? 'exited' : s === 'creating' ? 'created' : s;
}

/** Docker's PortBindings and NetworkSettings.Ports: "80/tcp" → [{HostIp, HostPort}]. */
export function portMap(ports: PortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const m: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports)
    (m[`${p.containerPort}/${p.protocol}`] ??= []).push({ HostIp: p.hostIP ?? '0.0.0.0', HostPort: String(p.hostPort) });
  return m;
}

/** docker port's lines: "80/tcp -> 0.0.0.0:8080", only those of `filter` (PORT or PORT/PROTO) when given. */
export function portLines(ports: PortMapping[], filter?: string): string[] {
  const [port, proto = 'tcp'] = filter?.split('/') ?? [];
  return ports
    .filter((p) => filter === undefined || (String(p.containerPort) === port && p.protocol === proto))
    .map((p) => `${filter === undefined ? `${p.containerPort}/${p.protocol} -> ` : ''}${p.hostIP ?? '0.0.0.0'}:${p.hostPort}`);
}

/** The user's binds and volumes among the spec's mounts (not the etc files tcr writes, nor the kernel's). */
function userMounts(rec: ContainerRecord, volumesRoot: string) {
  // and --init's docker-init, --ipc host's /dev/shm
  const etc = new Set(['/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/sbin/docker-init', '/dev/shm']);
  return (rec.config.mounts ?? [])
    .filter((m) => m.type === 'bind' && !etc.has(m.destination) && m.source)
    .map((m) => {
      const opts = m.options ?? [];
      const rel = path.relative(volumesRoot, m.source!);
      const volume = !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep)[0] : undefined;
      return {
        Type: volume ? 'volume' : 'bind',
        ...(volume && { Name: volume }),
        Source: m.source!,
        Destination: m.destination,
        ...(volume && { Driver: 'local' }),
        Mode: opts.includes('ro') ? 'ro' : '',
        RW: !opts.includes('ro'),
        Propagation: opts.find((o) => /^r?(private|shared|slave)$/.test(o)) ?? '',
      };
    });
}

function networkEntry(n: NetworkRecord) {
  const result = n.result?.ips?.find((i) => !i.address.includes(':'));
  const v6 = n.result?.ips?.find((i) => i.address.includes(':'));
  const mac = n.result?.interfaces?.find((i) => i.name === n.ifname && i.sandbox)?.mac ?? '';
  return {
    IPAddress: addressOf(n) ?? '',
    IPPrefixLen: result ? Number(result.address.split('/')[1]) : 0,
    Gateway: result?.gateway ?? '',
    // a network made with --ipv6
    GlobalIPv6Address: v6?.address.split('/')[0] ?? '',
    GlobalIPv6PrefixLen: v6 ? Number(v6.address.split('/')[1]) : 0,
    IPv6Gateway: v6?.gateway ?? '',
    MacAddress: mac,
    // on a user network the others find it by its name and --network-alias names
    Aliases: n.shareNames ? n.hosts.names.slice(1) : null,
  };
}

export function inspectContainer(s: InspectSource): Record<string, unknown> {
  const { rec } = s;
  // docker's create made it and nothing started it yet (src/run/created-record.ts): "created", not stopped
  const neverStarted = rec.pid === 0 && rec.startTime === '' && !s.exit;
  const status: Status = neverStarted ? 'created' : s.status;
  const spec = rec.config;
  const args = spec.process?.args ?? [];
  const note = runNote(rec);
  const res = spec.linux?.resources;
  const started = status !== 'created' && status !== 'creating';
  const net = rec.network;
  const ports = publishedPorts(rec, status);
  const mounts = userMounts(rec, s.volumesRoot);
  const ip = net ? (addressOf(net) ?? '') : '';
  const gateway = net?.result?.ips?.find((i) => !i.address.includes(':'))?.gateway ?? '';
  const first = net && networkEntry(net);
  const exitCode = status !== 'stopped' ? 0 : (s.exit?.code ?? -1);
  return {
    Id: rec.id,
    Created: rec.created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      Status: dockerStatus(status),
      Running: status === 'running' || status === 'paused',
      Paused: status === 'paused',
      Restarting: false,
      OOMKilled: false,
      Dead: false,
      Pid: status === 'stopped' ? 0 : rec.pid,
      ExitCode: exitCode,
      // the status is read by a tcr process that waited (foreground run, the monitor): one killed, or a bundle's run -d, has none
      Error: status === 'stopped' && !s.exit ? 'the exit status was not recorded (no tcr process waited for this container)' : '',
      StartedAt: started ? rec.created : ZERO_TIME,
      FinishedAt: status === 'stopped' ? (s.exit?.finishedAt ?? ZERO_TIME) : ZERO_TIME,
      ...(s.monitor?.health !== undefined && { Health: s.monitor.health }),
    },
    Image: rec.annotations?.['dev.tcr.image'] ?? '',
    Name: `/${s.name ?? rec.id}`,
    Driver: 'overlay',
    RestartCount: s.monitor?.restartCount ?? 0,
    Config: {
      Hostname: spec.hostname ?? '',
      User: note?.user ?? '',
      Tty: !!spec.process?.terminal,
      Env: spec.process?.env ?? [],
      Cmd: note ? note.cmd : args,
      Entrypoint: note?.entrypoint.length ? note.entrypoint : null,
      Image: rec.annotations?.['dev.tcr.image'] ?? '',
      WorkingDir: spec.process?.cwd ?? '/',
      Labels: note?.labels ?? {},
      ...(note?.stopSignal !== undefined && { StopSignal: note.stopSignal }),
      ...(note?.stopTimeout !== undefined && { StopTimeout: note.stopTimeout }),
    },
    HostConfig: {
      Binds: mounts.map((m) => `${m.Name ?? m.Source}:${m.Destination}${m.RW ? '' : ':ro'}`),
      NetworkMode: note?.network ?? 'none',
      // what was asked for stays, as docker keeps it; NetworkSettings.Ports is what is published now
      PortBindings: portMap(note?.ports ?? ports),
      ReadonlyRootfs: !!spec.root?.readonly,
      Memory: res?.memory?.limit ?? 0,
      MemorySwap: res?.memory?.swap ?? 0,
      NanoCpus: res?.cpu?.quota && res.cpu.period ? Math.round((res.cpu.quota / res.cpu.period) * 1e9) : 0,
      PidsLimit: res?.pids?.limit ?? null,
      CapAdd: null,
      CapDrop: null,
      SecurityOpt: spec.process?.noNewPrivileges ? ['no-new-privileges'] : null,
      ...hostConfigFields(spec, note?.host),
      RestartPolicy: s.monitor?.restartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
    },
    Mounts: mounts,
    NetworkSettings: {
      IPAddress: ip,
      Gateway: gateway,
      GlobalIPv6Address: first?.GlobalIPv6Address ?? '',
      GlobalIPv6PrefixLen: first?.GlobalIPv6PrefixLen ?? 0,
      IPv6Gateway: first?.IPv6Gateway ?? '',
      Ports: portMap(ports),
      Networks: Object.fromEntries(attachmentsOf(net).map((n) => [n.network, networkEntry(n)])),
    },
  };
}
