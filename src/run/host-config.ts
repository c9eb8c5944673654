// docker's HostConfig flags applied to the spec buildImageSpec made from the
// image: --privileged, --device, --shm-size, --ulimit, --sysctl, the
// namespace modes, --group-add, the cpu and memory settings, --oom-*, and
// --init. Everything is checked here, so a bad value fails before the run
// makes anything.
import fs from 'node:fs';
import os from 'node:os';
import { TcrError } from '../errors.js';
import { CAPABILITIES, capMask, ownBoundingSet } from '../linux/capabilities.js';
import type { Mount, Spec } from '../spec/types.js';
import { hostDevices, parseDevice } from './device-flags.js';
import { cpuMemoryResources, oomScoreAdj, shmSize, sysctls, ulimits } from './host-flags.js';
import { namespaceMode, type NamespaceJoins } from './namespace-flags.js';
import { shmBind } from './shared-shm.js';
import { noHostFlags, type HostConfigFlags, type ImageRunOptions } from './options.js';

/** Where --init's program comes from (Debian's tini package), and where docker puts its docker-init. */
export const INIT_SOURCE = '/usr/bin/tini-static';
export const INIT_TARGET = '/sbin/docker-init';

/** What the spec build needs from outside: the paths of namespaces to join (src/run/namespace-flags.ts namespaceJoins). */
export interface HostConfigContext {
  joins?: NamespaceJoins;
  /** the network namespace the spec uses: host means net.* sysctls are the host's */
  hostNetwork: boolean;
}

/** The host name a container has: the host's own with --uts host (so -h conflicts), else `own`. */
export function utsHostname(h: HostConfigFlags, o: Pick<ImageRunOptions, 'hostname'>, own: string): string {
  if (namespaceMode('uts', h.uts).kind !== 'host') return own;
  if (o.hostname !== undefined)
    throw new TcrError('-h/--hostname: conflicts with --uts host (the container has the host name of the host)');
  return os.hostname();
}

/** --privileged's capabilities: every one tcr itself holds in its bounding set (one outside it could never be granted). */
function allCapabilities(): string[] {
  const have = ownBoundingSet();
  return CAPABILITIES.filter((c) => capMask([c]) & have);
}

function setNamespaces(spec: Spec, h: HostConfigFlags, ctx: HostConfigContext): void {
  const linux = spec.linux!;
  for (const type of ['ipc', 'pid', 'uts'] as const) {
    const mode = namespaceMode(type, h[type]);
    const i = linux.namespaces!.findIndex((n) => n.type === type);
    if (mode.kind === 'host') linux.namespaces!.splice(i, 1);
    if (mode.kind === 'container') {
      const p = ctx.joins?.[type as 'ipc' | 'pid'];
      if (!p) throw new TcrError(`--${type} container:${mode.name}: the container was not looked up`);
      linux.namespaces![i] = { type, path: p };
    }
  }
  namespaceMode('userns', h.userns); // only host: tcr maps no users, so it is every container's
  if (namespaceMode('uts', h.uts).kind === 'host') delete spec.hostname;
  // docker's none: an IPC namespace of its own without /dev/shm
  if (h.ipc === 'none') spec.mounts = spec.mounts!.filter((m) => m.destination !== '/dev/shm');
  if (namespaceMode('ipc', h.ipc).kind === 'container') {
    const shm = ctx.joins?.shm;
    if (h.shmSize !== undefined) throw new TcrError(`--shm-size: conflicts with --ipc ${h.ipc} (/dev/shm is that container's)`);
    if (shm) spec.mounts = spec.mounts!.map((m) => (m.destination === '/dev/shm' ? shmBind(shm) : m));
  }
  if (namespaceMode('ipc', h.ipc).kind === 'host') {
    // the host's IPC namespace goes with the host's POSIX shared memory, as docker binds /dev/shm
    if (h.shmSize !== undefined) throw new TcrError("--shm-size: conflicts with --ipc host (/dev/shm is the host's)");
    spec.mounts = spec.mounts!.map((m) => (m.destination === '/dev/shm' ? shmBind('/dev/shm') : m));
  }
}

function setPrivileged(spec: Spec): void {
  const caps = allCapabilities();
  spec.process!.capabilities = { bounding: caps, effective: caps, permitted: caps };
  const linux = spec.linux!;
  delete linux.seccomp;
  linux.maskedPaths = [];
  linux.readonlyPaths = [];
  // /sys and the cgroup tree writable, as docker mounts them for --privileged
  spec.mounts = spec.mounts!.map((m): Mount =>
    m.destination === '/sys' || m.destination === '/sys/fs/cgroup' ? { ...m, options: (m.options ?? []).filter((o) => o !== 'ro') } : m,
  );
  linux.devices = [...(linux.devices ?? []), ...hostDevices().map((d) => d.node)];
  linux.resources!.devices = [{ allow: true, access: 'rwm' }];
}

/** Applies the host-config flags to `spec`; `args` is the process' argv, which --init puts after docker-init. */
export function applyHostConfig(spec: Spec, o: ImageRunOptions, ctx: HostConfigContext): void {
  const h = o.host ?? noHostFlags();
  const proc = spec.process!;
  const linux = spec.linux!;
  setNamespaces(spec, h, ctx);
  if (h.privileged) setPrivileged(spec);
  for (const grant of h.device.flatMap(parseDevice)) {
    linux.devices = [...(linux.devices ?? []).filter((d) => d.path !== grant.node.path), grant.node];
    linux.resources!.devices!.push(grant.rule);
  }
  const shm = shmSize(h.shmSize);
  if (shm !== undefined)
    spec.mounts = spec.mounts!.map((m) =>
      m.destination === '/dev/shm' ? { ...m, options: [...(m.options ?? []).filter((x) => !x.startsWith('size=')), `size=${shm}`] } : m,
    );
  proc.rlimits = ulimits(h.ulimit);
  const adj = oomScoreAdj(h.oomScoreAdj);
  if (adj !== undefined) proc.oomScoreAdj = adj;
  const hostIpc = namespaceMode('ipc', h.ipc).kind === 'host';
  const sys = sysctls(h.sysctl, { hostIpc, hostNetwork: ctx.hostNetwork });
  if (Object.keys(sys).length) linux.sysctl = sys;
  const r = linux.resources!;
  const { cpu, memory } = cpuMemoryResources({ ...h, cpus: o.cpus, memory: o.memory });
  delete r.cpu;
  if (cpu) r.cpu = cpu;
  if (memory) r.memory = { ...r.memory, ...memory };
  if (h.init) {
    if (!fs.existsSync(INIT_SOURCE)) throw new TcrError(`--init: ${INIT_SOURCE} is missing (apt-get install tini)`);
    spec.mounts!.push({ destination: INIT_TARGET, type: 'bind', source: INIT_SOURCE, options: ['bind', 'ro'] });
    proc.args = [INIT_TARGET, '--', ...(proc.args ?? [])];
  }
}
