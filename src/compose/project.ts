// A compose project from its file: which file (-f, or compose.yaml and its
// older names in the working directory), the project's name, .env and
// interpolation, then the services, networks and volumes, and the checks
// across them (every network, volume and dependency named exists, no
// dependency cycle).
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { TcrError } from '../errors.js';
import { bool, fail, keyValues, obj, onlyKeys, optStr, str, list, type Obj } from './fields.js';
import { interpolate, parseDotEnv, type Env } from './interpolate.js';
import type { NetworkDef, Project, Service, VolumeDef } from './model.js';
import { loadService } from './service.js';

export const COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

export interface LoadOptions {
  /** -f files, in order (later ones override earlier ones' keys) */
  files?: string[];
  /** -p */
  projectName?: string;
  cwd?: string;
  env?: Env;
  /** --env-file; default <project dir>/.env when it exists */
  envFile?: string;
}

/** The files to read: -f's, or the first of COMPOSE_FILES found in cwd or a parent, as compose searches. */
export function findFiles(opts: LoadOptions): string[] {
  const cwd = opts.cwd ?? process.cwd();
  if (opts.files?.length) {
    return opts.files.map((f) => {
      const p = path.resolve(cwd, f);
      if (!fs.existsSync(p)) throw new TcrError(`-f ${f}: no such file`);
      return p;
    });
  }
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const found = COMPOSE_FILES.map((f) => path.join(dir, f)).find((f) => fs.existsSync(f));
    if (found) return [found];
    if (dir === path.dirname(dir)) break;
  }
  throw new TcrError(`no compose file here or above ${cwd} (looked for ${COMPOSE_FILES.join(', ')}); name one with -f`);
}

/** docker compose's rule: lowercase letters, digits, _ and -, starting with a letter or digit. */
export function normalizeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

function parseYaml(file: string): Obj {
  const doc = parseDocument(fs.readFileSync(file, 'utf8'), { prettyErrors: true, uniqueKeys: true, merge: true });
  if (doc.errors.length) throw new TcrError(`${file}: ${doc.errors[0].message}`);
  const value: unknown = doc.toJS({ maxAliasCount: 1000 });
  if (value === null || value === undefined) throw new TcrError(`${file}: the file is empty`);
  return obj(value, file);
}

/** Later files override: mappings merge key by key, anything else is replaced (compose's rule for most keys). */
function merge(a: unknown, b: unknown): unknown {
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const out: Obj = { ...(a as Obj) };
    for (const [k, v] of Object.entries(b)) out[k] = k in out ? merge(out[k], v) : v;
    return out;
  }
  return b;
}

export function loadProject(opts: LoadOptions = {}): Project {
  const files = findFiles(opts);
  const workingDir = path.dirname(files[0]);
  const processEnv = opts.env ?? process.env;
  const envFile = opts.envFile ? path.resolve(opts.cwd ?? process.cwd(), opts.envFile) : path.join(workingDir, '.env');
  let dotEnv: Record<string, string> = {};
  if (opts.envFile || fs.existsSync(envFile)) {
    try {
      dotEnv = parseDotEnv(fs.readFileSync(envFile, 'utf8'), envFile);
    } catch (e) {
      if (e instanceof TcrError) throw e;
      throw new TcrError(`--env-file ${envFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  // the shell's variables win over .env's, as in compose
  const env: Env = { ...dotEnv, ...processEnv };
  const raw = files.map(parseYaml).reduce((a, b) => merge(a, b) as Obj);
  return projectFrom(interpolate(raw, env) as Obj, { files, workingDir, env, projectName: opts.projectName });
}

/** The project from an already parsed and interpolated document (the seam unit tests use). */
export function projectFrom(
  doc: Obj,
  ctx: { files: string[]; workingDir: string; env: Env; projectName?: string; readFile?: (f: string) => string },
): Project {
  onlyKeys(doc, 'compose file', ['version', 'name', 'services', 'networks', 'volumes'], {
    configs: 'top-level configs are not supported by tcr compose',
    secrets: 'top-level secrets are not supported by tcr compose',
    include: 'include is not supported by tcr compose: name the files with -f',
  });
  const given = ctx.projectName ?? ctx.env.COMPOSE_PROJECT_NAME ?? optStr(doc.name, 'name') ?? path.basename(ctx.workingDir);
  const name = normalizeProjectName(given);
  if (!name || !/^[a-z0-9]/.test(name))
    throw new TcrError(`project name ${JSON.stringify(given)}: needs a lowercase letter or digit first (give one with -p or name:)`);
  const servicesRaw = obj(doc.services ?? fail('services', 'missing: a compose file defines at least one service'), 'services');
  const readFile = ctx.readFile ?? ((f: string) => fs.readFileSync(f, 'utf8'));
  const services = Object.entries(servicesRaw).map(([n, s]) => loadService(n, s, { workingDir: ctx.workingDir, env: ctx.env, readFile }));
  const networks = topNetworks(doc.networks, name);
  const volumes = topVolumes(doc.volumes, name);
  checkReferences(services, networks, volumes);
  return { name, workingDir: ctx.workingDir, files: ctx.files, services, networks, volumes };
}

function topNetworks(v: unknown, project: string): Record<string, NetworkDef> {
  const out: Record<string, NetworkDef> = {};
  const raw = v === undefined || v === null ? {} : obj(v, 'networks');
  for (const [key, cfg] of Object.entries({ default: null, ...raw })) {
    const at = `networks.${key}`;
    const c = cfg === null || cfg === undefined ? {} : obj(cfg, at);
    onlyKeys(c, at, ['driver', 'driver_opts', 'external', 'internal', 'name', 'ipam', 'labels', 'attachable', 'enable_ipv6']);
    if (c.driver !== undefined && c.driver !== 'bridge')
      fail(`${at}.driver`, `${JSON.stringify(c.driver)}: tcr makes bridge networks only`);
    const external = bool(isExternal(c.external, `${at}.external`), `${at}.external`);
    const ipam = c.ipam === undefined ? {} : obj(c.ipam, `${at}.ipam`);
    onlyKeys(ipam, `${at}.ipam`, ['driver', 'config', 'options']);
    const configs = list(ipam.config, `${at}.ipam.config`);
    if (configs.length > 1) fail(`${at}.ipam.config`, 'tcr networks have one subnet');
    const sub = configs[0] === undefined ? {} : obj(configs[0], `${at}.ipam.config[0]`);
    onlyKeys(sub, `${at}.ipam.config[0]`, ['subnet', 'gateway', 'ip_range', 'aux_addresses']);
    out[key] = {
      name: optStr(c.name, `${at}.name`) ?? (external ? key : `${project}_${key}`),
      external,
      internal: bool(c.internal, `${at}.internal`),
      subnet: optStr(sub.subnet, `${at}.ipam.config[0].subnet`),
      gateway: optStr(sub.gateway, `${at}.ipam.config[0].gateway`),
      labels: keyValues(c.labels, `${at}.labels`, () => ''),
    };
  }
  return out;
}

/** `external: true`, or the old `external: {name: X}` form (its name is taken by the caller's `name:`). */
function isExternal(v: unknown, where: string): unknown {
  if (v !== null && typeof v === 'object') return !!str((v as Obj).name ?? 'x', `${where}.name`);
  return v;
}

function topVolumes(v: unknown, project: string): Record<string, VolumeDef> {
  const out: Record<string, VolumeDef> = {};
  const raw = v === undefined || v === null ? {} : obj(v, 'volumes');
  for (const [key, cfg] of Object.entries(raw)) {
    const at = `volumes.${key}`;
    const c = cfg === null || cfg === undefined ? {} : obj(cfg, at);
    onlyKeys(c, at, ['driver', 'driver_opts', 'external', 'name', 'labels']);
    if (c.driver !== undefined && c.driver !== 'local') fail(`${at}.driver`, `${JSON.stringify(c.driver)}: tcr volumes are local`);
    if (c.driver_opts !== undefined) fail(`${at}.driver_opts`, 'not supported by tcr volumes');
    const external = bool(isExternal(c.external, `${at}.external`), `${at}.external`);
    out[key] = {
      name: optStr(c.name, `${at}.name`) ?? (external ? key : `${project}_${key}`),
      external,
      labels: keyValues(c.labels, `${at}.labels`, () => ''),
    };
  }
  return out;
}

function checkReferences(services: Service[], networks: Record<string, NetworkDef>, volumes: Record<string, VolumeDef>): void {
  const names = new Set(services.map((s) => s.name));
  for (const s of services) {
    for (const n of Object.keys(s.networks))
      if (!(n in networks)) fail(`services.${s.name}.networks.${n}`, `network ${n} is not defined under the top-level networks:`);
    s.volumes.forEach((v, i) => {
      if (v.type === 'volume' && v.source !== undefined && !(v.source in volumes))
        fail(`services.${s.name}.volumes[${i}]`, `volume ${v.source} is not defined under the top-level volumes:`);
    });
    for (const d of Object.keys(s.dependsOn)) {
      if (d === s.name) fail(`services.${s.name}.depends_on`, 'a service cannot depend on itself');
      if (!names.has(d) && s.dependsOn[d].required) fail(`services.${s.name}.depends_on.${d}`, `no service ${d} in this file`);
    }
    const via = s.networkMode?.startsWith('service:') ? s.networkMode.slice(8) : undefined;
    if (via !== undefined && !names.has(via)) fail(`services.${s.name}.network_mode`, `no service ${via} in this file`);
    if (s.containerName && s.replicas > 1)
      fail(`services.${s.name}.container_name`, `one name cannot be given to ${s.replicas} replicas: drop container_name or scale to 1`);
  }
  startOrder(services); // throws on a cycle
}

/** Services in an order that starts each after those it depends on (network_mode: service:X counts). */
export function startOrder(services: Service[]): Service[] {
  const byName = new Map(services.map((s) => [s.name, s]));
  const done = new Set<string>();
  const visiting: string[] = [];
  const order: Service[] = [];
  const visit = (s: Service) => {
    if (done.has(s.name)) return;
    if (visiting.includes(s.name))
      throw new TcrError(
        `services.${s.name}.depends_on: a dependency cycle: ${[...visiting.slice(visiting.indexOf(s.name)), s.name].join(' → ')}`,
      );
    visiting.push(s.name);
    const deps = Object.keys(s.dependsOn);
    if (s.networkMode?.startsWith('service:')) deps.push(s.networkMode.slice(8));
    for (const d of deps) {
      const dep = byName.get(d);
      if (dep) visit(dep);
    }
    visiting.pop();
    done.add(s.name);
    order.push(s);
  };
  services.forEach(visit);
  return order;
}
