// Where an image's config and the `tcr run` flags become a runtime config.json,
// merged the way docker merges them: Entrypoint and Cmd, Env by name,
// WorkingDir, User, and the flags' mounts, limits and security settings.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { CAPABILITIES, capNumber } from '../linux/capabilities.js';
import { defaultSpec } from '../spec/defaults.js';
import type { ImageConfig } from '../image/types.js';
import type { Mount, Seccomp, Spec } from '../spec/types.js';
import { defaultSeccomp } from './default-seccomp.js';
import { DEFAULT_CAPS, noHostFlags, type ImageRunOptions } from './options.js';
import { resolveUser } from '../container/passwd.js';
import type { PreparedNetwork } from '../network/prepare.js';
import { applyHostConfig, utsHostname } from './host-config.js';
import { mergeLabels, stopSignal, stopTimeout } from './note-flags.js';
import { deviceMapping } from './device-flags.js';
import { isRootless } from '../container/rootless.js';
import { rootlessImageSpec } from './rootless-image.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The process' argv: docker's rules for Entrypoint, Cmd and the command line. */
export function processArgs(config: ImageConfig['config'], o: Pick<ImageRunOptions, 'entrypoint' | 'command'>, optional = false): string[] {
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : []) : (config?.Entrypoint ?? []);
  // a new entrypoint drops the image's Cmd, as in docker
  const cmd = o.command.length ? o.command : o.entrypoint !== undefined ? [] : (config?.Cmd ?? []);
  const args = [...entrypoint, ...cmd];
  if (!args.length && !optional) throw new TcrError('no command: the image has no Entrypoint or Cmd, and none was given');
  return args;
}

/** Env by name: the image's, then --env-file, then -e (a bare NAME takes the caller's value). */
export function mergeEnv(image: string[] | undefined, o: Pick<ImageRunOptions, 'env' | 'envFiles'>, extra: string[]): string[] {
  const env = new Map<string, string>();
  const put = (e: string, where: string) => {
    const i = e.indexOf('=');
    if (i === 0) throw new TcrError(`${where}: ${JSON.stringify(e)} has no variable name`);
    if (i < 0) {
      if (process.env[e] !== undefined) env.set(e, process.env[e]);
      return;
    }
    env.set(e.slice(0, i), e.slice(i + 1));
  };
  for (const e of image ?? []) put(e, 'image Env');
  for (const file of o.envFiles) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      throw new TcrError(`--env-file ${file}: ${errnoCode(e) ?? errorMessage(e)}`);
    }
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .forEach((l) => put(l, `--env-file ${file}`));
  }
  for (const e of o.env) put(e, '--env');
  for (const e of extra) if (!env.has(e.split('=')[0])) put(e, 'tcr');
  if (!env.has('PATH')) put(DEFAULT_PATH, 'tcr');
  return [...env].map(([k, v]) => `${k}=${v}`);
}

function capList(o: ImageRunOptions): string[] {
  const norm = (c: string) => {
    const n = c.toUpperCase().startsWith('CAP_') ? c.toUpperCase() : `CAP_${c.toUpperCase()}`;
    if (n !== 'CAP_ALL' && capNumber(n) === undefined) throw new TcrError(`--cap-add/--cap-drop: unknown capability ${JSON.stringify(c)}`);
    return n;
  };
  const add = o.capAdd.map(norm);
  const drop = o.capDrop.map(norm);
  // docker's order: drop ALL empties the set, add ALL fills it, then the named drops go
  let caps = drop.includes('CAP_ALL') ? [] : [...DEFAULT_CAPS];
  caps = add.includes('CAP_ALL') ? [...CAPABILITIES] : [...new Set([...caps, ...add])];
  return caps.filter((c) => !drop.includes(c));
}

function seccompFor(o: ImageRunOptions): Seccomp | undefined {
  const opt = o.securityOpt.find((s) => s.startsWith('seccomp=') || s.startsWith('seccomp:'));
  if (!opt) return defaultSeccomp();
  const v = opt.slice('seccomp='.length);
  if (v === 'unconfined') return undefined;
  try {
    return JSON.parse(fs.readFileSync(v, 'utf8')) as Seccomp;
  } catch (e) {
    throw new TcrError(`--security-opt seccomp=${v}: ${(e as Error).message}`);
  }
}

export interface ImageSpecContext {
  id: string;
  /** where the container's root filesystem will be */
  rootfs: string;
  config: ImageConfig;
  /** the image's layer directories, top first, to read /etc/passwd and /etc/group from */
  lookupRoot: string[];
  /** no Entrypoint, Cmd or command gives empty process.args instead of an error: a bundle
   *  (tcr unpack) of a base image is still worth having, and is edited before it runs */
  commandOptional?: boolean;
  /** the network namespace (default: one of its own, only lo) and the etc files mounted in (src/network/prepare.ts) */
  network?: Pick<PreparedNetwork, 'namespace' | 'mounts' | 'hostname' | 'record' | 'slirp'>;
  /** the mounts of -v, --mount and --tmpfs, resolved (src/volumes/attach.ts specMounts) */
  userMounts: Mount[];
  /** the namespaces --ipc/--pid container:NAME join (src/run/namespace-flags.ts namespaceJoins) */
  joins?: { ipc?: string; pid?: string; shm?: string };
}

/** -h, else the first 12 characters of the id, as docker names a container's host. */
export function defaultHostname(o: Pick<ImageRunOptions, 'hostname'>, id: string): string {
  return o.hostname ?? id.slice(0, 12);
}

/**
 * A spec before its network: everything the flags and the image decide, with
 * every check and file read done. `tcr run` makes it before anything exists,
 * so that a bad flag leaves nothing behind, and finishes it once the network
 * is prepared (finishImageSpec), which can no longer fail.
 */
export interface ImageSpecDraft {
  spec: Spec;
  /** where the network's etc mounts go: before the user's, so that a -v over /etc/hosts wins, as in docker */
  networkMountsAt: number;
  /** the docker-side facts for inspect, but the ports */
  run: Record<string, unknown>;
}

export function buildImageSpec(o: ImageRunOptions, ctx: ImageSpecContext): Spec {
  return finishImageSpec(draftImageSpec(o, ctx), ctx.network);
}

/** The spec with its network: the namespace, the etc files and the ports published. The draft is used up. */
export function finishImageSpec(d: ImageSpecDraft, network?: ImageSpecContext['network']): Spec {
  const spec = d.spec;
  spec.mounts!.splice(d.networkMountsAt, 0, ...(network?.mounts ?? []));
  const ns = network?.namespace ?? 'new';
  if (ns !== 'host') spec.linux!.namespaces!.push(ns === 'new' ? { type: 'network' } : { type: 'network', path: ns.path });
  // HostConfig.PortBindings, kept after the stop gives the ports back
  const ports = network?.record?.portMappings ?? network?.slirp?.ports ?? [];
  spec.annotations = { ...spec.annotations, 'dev.tcr.run': JSON.stringify({ ...d.run, ports }) };
  return isRootless() ? rootlessImageSpec(spec) : spec;
}

/** ctx.network, when given, only for its host name: a container whose network it joins (container:NAME) decides it. */
export function draftImageSpec(
  o: ImageRunOptions,
  ctx: Omit<ImageSpecContext, 'network'> & { network?: Pick<PreparedNetwork, 'hostname'> },
): ImageSpecDraft {
  for (const s of o.securityOpt)
    if (!/^(no-new-privileges(:true|=true)?|seccomp[=:].+|label[=:].*|apparmor[=:].+)$/.test(s))
      throw new TcrError(`--security-opt ${JSON.stringify(s)}: not understood (no-new-privileges, seccomp=unconfined|FILE)`);
  const img = ctx.config.config ?? {};
  const spec = defaultSpec();
  const host = o.host ?? noHostFlags();
  const hostname = ctx.network?.hostname ?? utsHostname(host, o, defaultHostname(o, ctx.id));
  const caps = capList(o);
  spec.root = { path: ctx.rootfs, readonly: !!o.readOnly };
  spec.hostname = hostname;
  spec.process = {
    terminal: !!o.tty,
    user: resolveUser(o.user ?? img.User, ctx.lookupRoot, host.groupAdd),
    args: processArgs(img, o, ctx.commandOptional),
    env: mergeEnv(img.Env, o, [`HOSTNAME=${hostname}`, ...(o.tty ? ['TERM=xterm'] : [])]),
    cwd: o.workdir ?? (img.WorkingDir || '/'),
    capabilities: { bounding: caps, effective: caps, permitted: caps },
    // the sandbox here cannot raise limits: keep the caller's
    rlimits: [],
    noNewPrivileges: o.securityOpt.some((s) => s.startsWith('no-new-privileges')),
  };
  if (!path.isAbsolute(spec.process.cwd)) throw new TcrError(`working directory ${JSON.stringify(spec.process.cwd)} must be absolute`);
  const mounts = spec.mounts!.filter((m) => !(o.readOnly === false && m.destination === '/sys'));
  const networkMountsAt = mounts.length;
  mounts.push(...ctx.userMounts);
  spec.mounts = mounts;
  const linux = spec.linux!;
  linux.namespaces = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'cgroup' }];
  const resources: NonNullable<Spec['linux']>['resources'] = {
    devices: [{ allow: false, access: 'rwm' }],
  };
  if (o.memory !== undefined) resources.memory = { limit: o.memory, ...(o.memorySwap !== undefined && { swap: o.memorySwap }) };
  if (o.cpus !== undefined) resources.cpu = { quota: Math.round(o.cpus * 100000), period: 100000 };
  if (o.pidsLimit !== undefined) resources.pids = { limit: o.pidsLimit };
  linux.resources = resources;
  const seccomp = seccompFor(o);
  if (seccomp) linux.seccomp = seccomp;
  applyHostConfig(spec, o, { joins: ctx.joins, hostNetwork: o.network === 'host' });
  // what docker's inspect shows and the merged spec no longer tells apart (src/run/inspect.ts)
  const entrypoint = o.entrypoint !== undefined ? (o.entrypoint ? [o.entrypoint] : []) : (img.Entrypoint ?? []);
  const cmd = o.command.length ? o.command : o.entrypoint !== undefined ? [] : (img.Cmd ?? []);
  const run = {
    entrypoint,
    cmd,
    network: o.network ?? 'bridge',
    labels: mergeLabels(img.Labels, host.label, host.labelFile),
    user: o.user ?? img.User ?? '',
    detached: !!o.detach,
    stopSignal: stopSignal(host.stopSignal, img.StopSignal),
    stopTimeout: stopTimeout(host.stopTimeout),
    host: {
      ...{ privileged: !!host.privileged, ipcMode: host.ipc || 'private', pidMode: host.pid ?? '', utsMode: host.uts ?? '' },
      ...{ init: !!host.init, groupAdd: host.groupAdd, volumesFrom: host.volumesFrom },
      devices: host.device.map(deviceMapping),
    },
  };
  spec.annotations = { 'dev.tcr.image': o.image };
  return { spec, networkMountsAt, run };
}
