// One service of a compose file, from the YAML's many short forms to the
// long one of model.ts. Every key the Compose Specification defines for a
// service is either read here or refused with the reason tcr lacks it.
import path from 'node:path';
import os from 'node:os';
import { parseBytes } from '../cli/units.js';
import type { DependCondition, Healthcheck, PortSpec, Service, ServiceNetwork, VolumeMount } from './model.js';
import {
  bool,
  command,
  durationSeconds,
  fail,
  int,
  isObj,
  keyValues,
  list,
  obj,
  onlyKeys,
  optStr,
  str,
  strList,
  strOrList,
  type Obj,
} from './fields.js';
import type { Env } from './interpolate.js';

const SERVICE_KEYS = [
  'image',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'ports',
  'expose',
  'volumes',
  'networks',
  'network_mode',
  'depends_on',
  'healthcheck',
  'restart',
  'deploy',
  'scale',
  'mem_limit',
  'memswap_limit',
  'mem_reservation',
  'cpus',
  'pids_limit',
  'read_only',
  'tmpfs',
  'cap_add',
  'cap_drop',
  'user',
  'working_dir',
  'hostname',
  'container_name',
  'labels',
  'init',
  'privileged',
  'stop_signal',
  'stop_grace_period',
  'extra_hosts',
  'dns',
  'tty',
  'stdin_open',
  'shm_size',
  'security_opt',
  'devices',
  'sysctls',
  'ulimits',
  'platform',
  'pull_policy',
  'profiles',
] as const;

const UNSUPPORTED: Record<string, string> = {
  build: 'tcr has no image builder: build the image elsewhere, then `tcr load` it and name it with image:',
  configs: 'configs are not supported by tcr compose: bind-mount the file with volumes:',
  secrets: 'secrets are not supported by tcr compose: bind-mount the file read-only with volumes:',
  links: 'links are obsolete: services on a network reach each other by name',
  external_links: 'external_links are obsolete: put the services on a shared external network',
  extends: 'extends is not supported by tcr compose',
};

export interface ServiceContext {
  /** what the file's relative paths are relative to */
  workingDir: string;
  /** the process environment and .env, for bare `environment` names */
  env: Env;
  /** readers of env_file contents, seam for tests */
  readFile: (file: string) => string;
}

export function loadService(name: string, raw: unknown, ctx: ServiceContext): Service {
  const where = `services.${name}`;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name))
    fail(where, 'a service name is letters, digits, _ . and - (starting with a letter or digit)');
  const s = obj(raw ?? {}, where);
  onlyKeys(s, where, SERVICE_KEYS, UNSUPPORTED);
  const at = (k: string) => `${where}.${k}`;
  if (s.image === undefined) fail(at('image'), 'missing: tcr compose runs images (it has no build:)');
  const deploy = loadDeploy(s.deploy, at('deploy'));
  const networkMode = optStr(s.network_mode, at('network_mode'));
  if (networkMode !== undefined && s.networks !== undefined) fail(at('network_mode'), 'cannot be given with networks:');
  if (networkMode !== undefined && !/^(host|none|bridge|service:.+|container:.+)$/.test(networkMode))
    fail(at('network_mode'), `${JSON.stringify(networkMode)}: expected host, none, bridge, service:NAME or container:NAME`);
  const scale = int(s.scale, at('scale'));
  if (scale !== undefined && deploy.replicas !== undefined && scale !== deploy.replicas)
    fail(at('scale'), `${scale} disagrees with deploy.replicas ${deploy.replicas}`);
  return {
    name,
    image: str(s.image, at('image')),
    command: command(s.command, at('command')),
    entrypoint: command(s.entrypoint, at('entrypoint')),
    environment: environment(s, ctx, where),
    ports: list(s.ports, at('ports')).map((p, i) => port(p, `${at('ports')}[${i}]`)),
    expose: list(s.expose, at('expose')).map((p, i) => str(p, `${at('expose')}[${i}]`)),
    volumes: list(s.volumes, at('volumes')).map((v, i) => volume(v, `${at('volumes')}[${i}]`, ctx.workingDir)),
    networks: networkMode !== undefined ? {} : serviceNetworks(s.networks, at('networks')),
    networkMode,
    dependsOn: dependsOn(s.depends_on, at('depends_on')),
    healthcheck: s.healthcheck === undefined ? undefined : healthcheck(s.healthcheck, at('healthcheck')),
    restart: restart(s.restart, at('restart')),
    replicas: deploy.replicas ?? scale ?? 1,
    memLimit: bytes(s.mem_limit, at('mem_limit')) ?? deploy.memory,
    memswapLimit: bytes(s.memswap_limit, at('memswap_limit')),
    memReservation: bytes(s.mem_reservation, at('mem_reservation')) ?? deploy.memoryReservation,
    cpus: cpus(s.cpus, at('cpus')) ?? deploy.cpus,
    pidsLimit: int(s.pids_limit, at('pids_limit'), -1) ?? deploy.pids,
    readOnly: bool(s.read_only, at('read_only')),
    tmpfs: strOrList(s.tmpfs, at('tmpfs')),
    capAdd: strList(s.cap_add, at('cap_add')),
    capDrop: strList(s.cap_drop, at('cap_drop')),
    user: optStr(s.user, at('user')),
    workingDir: optStr(s.working_dir, at('working_dir')),
    hostname: optStr(s.hostname, at('hostname')),
    containerName: containerName(s.container_name, at('container_name')),
    labels: keyValues(s.labels, at('labels'), () => ''),
    init: bool(s.init, at('init')),
    privileged: bool(s.privileged, at('privileged')),
    stopSignal: optStr(s.stop_signal, at('stop_signal')),
    stopGracePeriod: durationSeconds(s.stop_grace_period, at('stop_grace_period')),
    extraHosts: extraHosts(s.extra_hosts, at('extra_hosts')),
    dns: strOrList(s.dns, at('dns')),
    tty: bool(s.tty, at('tty')),
    stdinOpen: bool(s.stdin_open, at('stdin_open')),
    shmSize: bytes(s.shm_size, at('shm_size')),
    securityOpt: strList(s.security_opt, at('security_opt')),
    devices: list(s.devices, at('devices')).map((d, i) => str(d, `${at('devices')}[${i}]`)),
    sysctls: keyValues(s.sysctls, at('sysctls'), () => undefined),
    ulimits: ulimits(s.ulimits, at('ulimits')),
    platform: optStr(s.platform, at('platform')),
    pullPolicy: pullPolicy(s.pull_policy, at('pull_policy')),
  };
}

function bytes(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  return parseBytes(str(v, where), where);
}

function cpus(v: unknown, where: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = Number(str(v, where));
  if (!Number.isFinite(n) || n <= 0) fail(where, `${JSON.stringify(v)} is not a positive number of CPUs`);
  return n;
}

function containerName(v: unknown, where: string): string | undefined {
  const name = optStr(v, where);
  if (name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name))
    fail(where, `${JSON.stringify(name)}: a container name is [a-zA-Z0-9][a-zA-Z0-9_.-]+`);
  return name;
}

/** env_file first, then environment over it; a bare name takes the caller's value (and is dropped when unset), as compose does. */
function environment(s: Obj, ctx: ServiceContext, where: string): Record<string, string> {
  const env: Record<string, string> = {};
  const files = isObj(s.env_file) ? [s.env_file] : Array.isArray(s.env_file) ? s.env_file : s.env_file === undefined ? [] : [s.env_file];
  files.forEach((f: unknown, i) => {
    const at = `${where}.env_file${Array.isArray(s.env_file) ? `[${i}]` : ''}`;
    const entry = isObj(f) ? f : { path: f };
    onlyKeys(entry, at, ['path', 'required', 'format']);
    const file = path.resolve(ctx.workingDir, str(entry.path, `${at}.path`));
    let text: string;
    try {
      text = ctx.readFile(file);
    } catch (e) {
      if (entry.required === false) return;
      fail(at, `${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    text.split('\n').forEach((raw, n) => {
      const line = raw.trim();
      if (!line || line.startsWith('#')) return;
      const eq = line.indexOf('=');
      if (eq === 0) fail(`${file}:${n + 1}`, `${JSON.stringify(raw)} has no variable name`);
      if (eq < 0) {
        if (ctx.env[line] !== undefined) env[line] = ctx.env[line];
      } else env[line.slice(0, eq)] = line.slice(eq + 1);
    });
  });
  return { ...env, ...keyValues(s.environment, `${where}.environment`, (k) => ctx.env[k]) };
}

/** Short "[[IP:]HOST:]CTR[/PROTO]" (IP may be [v6]) or the long mapping. */
export function port(v: unknown, where: string): PortSpec {
  const proto = (p: string | undefined): 'tcp' | 'udp' => {
    if (p === undefined || p === 'tcp' || p === 'udp') return p ?? 'tcp';
    fail(where, `protocol ${JSON.stringify(p)}: tcr publishes tcp and udp`);
  };
  const range = /^\d+(-\d+)?$/;
  if (isObj(v)) {
    onlyKeys(v, where, ['target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol']);
    const target = str(v.target, `${where}.target`);
    const published = v.published === undefined ? '' : str(v.published, `${where}.published`);
    if (!range.test(target) || (published && !range.test(published))) fail(where, 'target and published are ports or ranges (8000-8010)');
    if (v.mode !== undefined && v.mode !== 'host' && v.mode !== 'ingress') fail(`${where}.mode`, 'expected host or ingress');
    return {
      hostIp: optStr(v.host_ip, `${where}.host_ip`) ?? '',
      published,
      target,
      protocol: proto(optStr(v.protocol, `${where}.protocol`)),
    };
  }
  const text = str(v, where);
  const [spec, p, extra] = text.split('/');
  if (extra !== undefined) fail(where, `${JSON.stringify(text)} is not [[IP:]HOST:]CONTAINER[/PROTOCOL]`);
  let hostIp = '';
  let rest = spec;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(spec);
  if (v6) [, hostIp, rest] = v6;
  const parts = rest.split(':');
  if (!v6 && parts.length === 3) hostIp = parts.shift()!;
  if (parts.length > 2 || parts.some((x, i) => !(range.test(x) || (x === '' && i === 0 && parts.length === 2))))
    fail(where, `${JSON.stringify(text)} is not [[IP:]HOST:]CONTAINER[/PROTOCOL]`);
  const [published, target] = parts.length === 2 ? parts : ['', parts[0]];
  return { hostIp, published, target, protocol: proto(p) };
}

function isPath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~');
}

function hostPath(s: string, workingDir: string): string {
  if (s === '~' || s.startsWith('~/')) return path.join(os.homedir(), s.slice(1));
  return path.resolve(workingDir, s);
}

/** Short "SRC:DST[:MODE]" / "DST", or the long mapping. */
export function volume(v: unknown, where: string, workingDir: string): VolumeMount {
  if (isObj(v)) {
    onlyKeys(v, where, ['type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs', 'consistency']);
    const type = str(v.type, `${where}.type`);
    if (type !== 'volume' && type !== 'bind' && type !== 'tmpfs')
      fail(`${where}.type`, `${JSON.stringify(type)}: expected volume, bind or tmpfs`);
    const target = str(v.target, `${where}.target`);
    if (!target.startsWith('/')) fail(`${where}.target`, `${JSON.stringify(target)} is not an absolute path in the container`);
    const source = optStr(v.source, `${where}.source`);
    if (type === 'bind' && !source) fail(`${where}.source`, 'a bind needs the host path');
    if (type === 'tmpfs' && source) fail(`${where}.source`, 'a tmpfs has no source');
    const tmpfs = v.tmpfs === undefined ? undefined : obj(v.tmpfs, `${where}.tmpfs`);
    const vol = v.volume === undefined ? undefined : obj(v.volume, `${where}.volume`);
    return {
      type,
      source: type === 'bind' ? hostPath(source!, workingDir) : source,
      target,
      readOnly: bool(v.read_only, `${where}.read_only`),
      tmpfsSize: tmpfs?.size === undefined ? undefined : parseBytes(str(tmpfs.size, `${where}.tmpfs.size`), `${where}.tmpfs.size`),
      noCopy: vol ? bool(vol.nocopy, `${where}.volume.nocopy`) : undefined,
    };
  }
  const text = str(v, where);
  const parts = text.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) fail(where, `${JSON.stringify(text)} is not [SOURCE:]TARGET[:MODE]`);
  if (parts.length === 1) {
    if (!text.startsWith('/')) fail(where, `${JSON.stringify(text)} is not an absolute path in the container`);
    return { type: 'volume', target: text, readOnly: false };
  }
  const [source, target, mode = 'rw'] = parts;
  if (!target.startsWith('/')) fail(where, `${JSON.stringify(target)} is not an absolute path in the container`);
  const modes = mode.split(',');
  for (const m of modes)
    if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'].includes(m))
      fail(where, `mode ${JSON.stringify(m)}: expected ro, rw, nocopy or a propagation`);
  const bind = isPath(source);
  return {
    type: bind ? 'bind' : 'volume',
    source: bind ? hostPath(source, workingDir) : source,
    target,
    readOnly: modes.includes('ro'),
    noCopy: modes.includes('nocopy') || undefined,
  };
}

function serviceNetworks(v: unknown, where: string): Record<string, ServiceNetwork> {
  if (v === undefined || v === null) return { default: { aliases: [] } };
  if (Array.isArray(v)) return Object.fromEntries(v.map((n, i) => [str(n, `${where}[${i}]`), { aliases: [] }]));
  const out: Record<string, ServiceNetwork> = {};
  for (const [name, cfg] of Object.entries(obj(v, where))) {
    const at = `${where}.${name}`;
    const c = cfg === null ? {} : obj(cfg, at);
    onlyKeys(c, at, ['aliases', 'ipv4_address', 'priority']);
    out[name] = { aliases: strList(c.aliases, `${at}.aliases`), ipv4Address: optStr(c.ipv4_address, `${at}.ipv4_address`) };
  }
  return out;
}

function dependsOn(v: unknown, where: string): Service['dependsOn'] {
  const out: Service['dependsOn'] = {};
  if (v === undefined || v === null) return out;
  if (Array.isArray(v)) {
    v.forEach((d, i) => (out[str(d, `${where}[${i}]`)] = { condition: 'service_started', required: true }));
    return out;
  }
  for (const [name, cfg] of Object.entries(obj(v, where))) {
    const at = `${where}.${name}`;
    const c = obj(cfg ?? {}, at);
    onlyKeys(c, at, ['condition', 'required', 'restart']);
    const condition = (optStr(c.condition, `${at}.condition`) ?? 'service_started') as DependCondition;
    if (!['service_started', 'service_healthy', 'service_completed_successfully'].includes(condition))
      fail(`${at}.condition`, `${JSON.stringify(condition)}: expected service_started, service_healthy or service_completed_successfully`);
    out[name] = { condition, required: c.required === undefined ? true : bool(c.required, `${at}.required`) };
  }
  return out;
}

function healthcheck(v: unknown, where: string): Healthcheck {
  const h = obj(v, where);
  onlyKeys(h, where, ['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']);
  let test: string[] | undefined;
  if (typeof h.test === 'string') test = ['CMD-SHELL', h.test];
  else if (h.test !== undefined) {
    test = strList(h.test, `${where}.test`);
    if (!['CMD', 'CMD-SHELL', 'NONE'].includes(test[0] ?? '')) fail(`${where}.test`, 'a list starts with CMD, CMD-SHELL or NONE');
  }
  for (const k of ['interval', 'timeout', 'start_period']) durationSeconds(h[k], `${where}.${k}`);
  return {
    test,
    interval: optStr(h.interval, `${where}.interval`),
    timeout: optStr(h.timeout, `${where}.timeout`),
    startPeriod: optStr(h.start_period, `${where}.start_period`),
    retries: int(h.retries, `${where}.retries`),
    disable: bool(h.disable, `${where}.disable`) || test?.[0] === 'NONE',
  };
}

function restart(v: unknown, where: string): string | undefined {
  const r = optStr(v, where);
  if (r !== undefined && !/^(no|always|unless-stopped|on-failure(:\d+)?)$/.test(r))
    fail(where, `${JSON.stringify(r)}: expected no, always, unless-stopped or on-failure[:N]`);
  return r;
}

function loadDeploy(
  v: unknown,
  where: string,
): { replicas?: number; memory?: number; memoryReservation?: number; cpus?: number; pids?: number } {
  if (v === undefined || v === null) return {};
  const d = obj(v, where);
  onlyKeys(d, where, ['replicas', 'resources', 'restart_policy', 'mode', 'labels', 'update_config', 'rollback_config', 'placement']);
  if (d.mode !== undefined && d.mode !== 'replicated') fail(`${where}.mode`, 'tcr compose runs replicated services only');
  const res = d.resources === undefined ? {} : obj(d.resources, `${where}.resources`);
  onlyKeys(res, `${where}.resources`, ['limits', 'reservations']);
  const limits = res.limits === undefined ? {} : obj(res.limits, `${where}.resources.limits`);
  onlyKeys(limits, `${where}.resources.limits`, ['cpus', 'memory', 'pids']);
  const reservations = res.reservations === undefined ? {} : obj(res.reservations, `${where}.resources.reservations`);
  onlyKeys(reservations, `${where}.resources.reservations`, ['cpus', 'memory', 'devices', 'generic_resources']);
  return {
    replicas: int(d.replicas, `${where}.replicas`),
    memory: bytes(limits.memory, `${where}.resources.limits.memory`),
    memoryReservation: bytes(reservations.memory, `${where}.resources.reservations.memory`),
    cpus: cpus(limits.cpus, `${where}.resources.limits.cpus`),
    pids: int(limits.pids, `${where}.resources.limits.pids`),
  };
}

function extraHosts(v: unknown, where: string): string[] {
  if (isObj(v)) return Object.entries(v).map(([h, ip]) => `${h}:${str(ip, `${where}.${h}`)}`);
  // compose writes both host:ip and host=ip
  return strList(v, where).map((e) => e.replace('=', ':'));
}

function ulimits(v: unknown, where: string): Service['ulimits'] {
  const out: Service['ulimits'] = {};
  if (v === undefined || v === null) return out;
  for (const [name, lim] of Object.entries(obj(v, where))) {
    const at = `${where}.${name}`;
    if (isObj(lim)) {
      onlyKeys(lim, at, ['soft', 'hard']);
      out[name] = { soft: int(lim.soft, `${at}.soft`, -1)!, hard: int(lim.hard, `${at}.hard`, -1)! };
      if (out[name].soft === undefined || out[name].hard === undefined) fail(at, 'needs both soft and hard');
    } else {
      const n = int(lim, at, -1)!;
      out[name] = { soft: n, hard: n };
    }
  }
  return out;
}

function pullPolicy(v: unknown, where: string): Service['pullPolicy'] {
  const p = optStr(v, where);
  if (p === undefined) return undefined;
  if (p === 'if_not_present' || p === 'missing') return 'missing';
  if (p === 'always' || p === 'never') return p;
  fail(where, `${JSON.stringify(p)}: expected always, missing (if_not_present) or never`);
}
