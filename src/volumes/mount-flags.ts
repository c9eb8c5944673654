// `tcr run`'s -v, --mount and --tmpfs read as docker reads them, into one
// list of requests: a bind of a host path, a volume (named, or anonymous
// when no source is given) or a tmpfs. Pure: nothing is made here, so a bad
// flag fails before the run makes anything (a bind's source is only checked
// to exist, since docker's --mount refuses a missing one and tcr's -v never
// creates a host directory behind the user's back).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import { parseBytes } from '../cli/units.js';

/** docker's rule for a local volume's name (daemon/names, the local driver): at least two characters. */
export const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'] as const;
export type Propagation = (typeof PROPAGATIONS)[number];

export type MountRequest =
  | { type: 'bind'; source: string; target: string; readonly: boolean; propagation: Propagation; flag: string }
  /** name undefined: an anonymous volume, named when the run makes it */
  | { type: 'volume'; name: string | undefined; target: string; readonly: boolean; nocopy: boolean; flag: string }
  | { type: 'tmpfs'; target: string; readonly: boolean; options: string[]; flag: string };

/** The refusal of a bad volume name, in docker's words, with the way out for a host directory. */
export function checkVolumeName(name: string, where: string): string {
  if (name.length === 1)
    throw new TcrError(
      `${where}: volume name ${JSON.stringify(name)} is too short, names should be at least two alphanumeric characters; for a host directory give an absolute path or one starting with ./`,
    );
  if (!VOLUME_NAME.test(name) || name.length > 253)
    throw new TcrError(
      `${where}: ${JSON.stringify(name)} includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed (at least 2 characters); for a host directory give an absolute path or one starting with ./`,
    );
  return name;
}

/** Docker's split of a source: a path (absolute, or relative to the cwd when it starts with ./ or ../) is a bind, anything else names a volume. */
function isHostPath(source: string): boolean {
  return source.startsWith('/') || source === '.' || source === '..' || source.startsWith('./') || source.startsWith('../');
}

function existingSource(source: string, cwd: string, where: string): string {
  const abs = path.resolve(cwd, source);
  if (!fs.existsSync(abs)) throw new TcrError(`${where}: ${abs} does not exist`);
  return abs;
}

function absoluteTarget(target: string, where: string): string {
  if (!path.isAbsolute(target)) throw new TcrError(`${where}: the container path ${JSON.stringify(target)} must be absolute`);
  const t = path.posix.normalize(target);
  if (t === '/') throw new TcrError(`${where}: the container path cannot be /`);
  return t.replace(/\/+$/, '');
}

/** -v [SOURCE:]TARGET[:OPTIONS]: no source is an anonymous volume. */
export function parseVolumeFlag(v: string, cwd: string): MountRequest {
  const where = `-v ${JSON.stringify(v)}`;
  const parts = v.split(':');
  if (parts.length > 3 || parts.some((p) => p === '')) throw new TcrError(`${where}: give [HOST-PATH|NAME:]CONTAINER-PATH[:ro]`);
  const [source, target, mode] = parts.length === 1 ? [undefined, parts[0], undefined] : parts;
  const opts = mode?.split(',') ?? [];
  const known = ['ro', 'rw', 'z', 'Z', 'nocopy', ...PROPAGATIONS];
  for (const m of opts) if (!known.includes(m)) throw new TcrError(`${where}: unknown option ${JSON.stringify(m)}`);
  const readonly = opts.includes('ro');
  const propagations = opts.filter((m) => (PROPAGATIONS as readonly string[]).includes(m)) as Propagation[];
  if (propagations.length > 1) throw new TcrError(`${where}: more than one propagation (${propagations.join(', ')})`);
  const t = absoluteTarget(target, where);
  if (source !== undefined && isHostPath(source)) {
    if (opts.includes('nocopy')) throw new TcrError(`${where}: nocopy is for volumes, not for a host path`);
    return {
      type: 'bind',
      source: existingSource(source, cwd, where),
      target: t,
      readonly,
      propagation: propagations[0] ?? 'rprivate',
      flag: where,
    };
  }
  if (propagations.length) throw new TcrError(`${where}: ${propagations[0]}: propagation is for a host path, not for a volume`);
  const name = source === undefined ? undefined : checkVolumeName(source, where);
  return { type: 'volume', name, target: t, readonly, nocopy: opts.includes('nocopy'), flag: where };
}

/** A --mount boolean: the key alone is true, else docker's spellings. */
function bool(key: string, value: string | undefined, where: string): boolean {
  if (value === undefined) return true;
  const v = value.toLowerCase();
  if (['1', 'true'].includes(v)) return true;
  if (['0', 'false'].includes(v)) return false;
  throw new TcrError(`${where}: ${key}=${value}: not a boolean (true or false)`);
}

const ALIASES: Record<string, string> = { src: 'source', dst: 'target', destination: 'target', ro: 'readonly' };
const KEYS: Record<string, 'bind' | 'volume' | 'tmpfs' | 'any'> = {
  type: 'any',
  source: 'any',
  target: 'any',
  readonly: 'any',
  consistency: 'any',
  'bind-propagation': 'bind',
  'volume-nocopy': 'volume',
  'volume-driver': 'volume',
  'tmpfs-size': 'tmpfs',
  'tmpfs-mode': 'tmpfs',
};

/** --mount type=bind|volume|tmpfs,KEY=VALUE,...: docker's keys and their aliases; type defaults to volume, as in docker. */
export function parseMountFlag(m: string, cwd: string): MountRequest {
  const where = `--mount ${JSON.stringify(m)}`;
  const fields = new Map<string, string | undefined>();
  // the key as the user spelled it (ro, dst, ...), for the messages
  const spelled = new Map<string, string>();
  for (const field of m.split(',')) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const raw = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const key = ALIASES[raw] ?? raw;
    if (!(key in KEYS))
      throw new TcrError(
        `${where}: unknown key ${JSON.stringify(raw)} (type, source/src, target/dst/destination, readonly/ro, bind-propagation, volume-nocopy, tmpfs-size, tmpfs-mode)`,
      );
    if (fields.has(key)) throw new TcrError(`${where}: ${raw} given twice`);
    fields.set(key, eq < 0 ? undefined : field.slice(eq + 1));
    spelled.set(key, raw);
  }
  const type = fields.get('type') ?? 'volume';
  if (type !== 'bind' && type !== 'volume' && type !== 'tmpfs')
    throw new TcrError(`${where}: type=${type}: not a mount type tcr supports (bind, volume, tmpfs)`);
  for (const [key] of fields) {
    const only = KEYS[key];
    if (only !== 'any' && only !== type) throw new TcrError(`${where}: ${spelled.get(key)} is only for type=${only}, not type=${type}`);
  }
  const value = (key: string): string | undefined => {
    if (!fields.has(key)) return undefined;
    const v = fields.get(key);
    if (!v) throw new TcrError(`${where}: ${spelled.get(key)} needs a value (${spelled.get(key)}=...)`);
    return v;
  };
  const targetValue = value('target');
  if (targetValue === undefined) throw new TcrError(`${where}: target is required (target=/path, or dst=/path)`);
  const target = absoluteTarget(targetValue, where);
  const readonly = fields.has('readonly') ? bool(spelled.get('readonly')!, fields.get('readonly'), where) : false;
  const source = value('source');
  if (type === 'bind') {
    if (source === undefined) throw new TcrError(`${where}: source is required for type=bind (source=/host/path)`);
    const propagation = value('bind-propagation') ?? 'rprivate';
    if (!(PROPAGATIONS as readonly string[]).includes(propagation))
      throw new TcrError(`${where}: bind-propagation=${propagation}: not one of ${PROPAGATIONS.join(', ')}`);
    return { type, source: existingSource(source, cwd, where), target, readonly, propagation: propagation as Propagation, flag: where };
  }
  if (type === 'volume') {
    const driver = value('volume-driver');
    if (driver !== undefined && driver !== 'local')
      throw new TcrError(`${where}: volume-driver=${driver}: only the local driver is supported`);
    const nocopy = fields.has('volume-nocopy') ? bool('volume-nocopy', fields.get('volume-nocopy'), where) : false;
    return { type, name: source === undefined ? undefined : checkVolumeName(source, where), target, readonly, nocopy, flag: where };
  }
  if (source !== undefined) throw new TcrError(`${where}: source is not allowed for type=tmpfs`);
  const options: string[] = [];
  const size = value('tmpfs-size');
  if (size !== undefined) {
    const n = parseBytes(size, `${where}: tmpfs-size`);
    if (n <= 0) throw new TcrError(`${where}: tmpfs-size=${size}: must be a positive size`);
    options.push(`size=${n}`);
  }
  const mode = value('tmpfs-mode');
  if (mode !== undefined) {
    if (!/^[0-7]{1,4}$/.test(mode)) throw new TcrError(`${where}: tmpfs-mode=${mode}: not an octal mode (e.g. 1777)`);
    options.push(`mode=${mode}`);
  }
  return { type, target, readonly, options, flag: where };
}

/** --tmpfs PATH[:OPTIONS] (mount(8)'s tmpfs options, passed on). */
export function parseTmpfsFlag(t: string): MountRequest {
  const where = `--tmpfs ${JSON.stringify(t)}`;
  const i = t.indexOf(':');
  const target = absoluteTarget(i < 0 ? t : t.slice(0, i), where);
  const options =
    i < 0
      ? []
      : t
          .slice(i + 1)
          .split(',')
          .filter(Boolean);
  return { type: 'tmpfs', target, readonly: options.includes('ro'), options: options.filter((o) => o !== 'ro' && o !== 'rw'), flag: where };
}

/** All of a run's mount flags, in docker's order of precedence checks: two mounts on one path are refused, as docker refuses them. */
export function parseMountFlags(f: { volumes: string[]; mounts: string[]; tmpfs: string[] }, cwd: string): MountRequest[] {
  const all = [
    ...f.volumes.map((v) => parseVolumeFlag(v, cwd)),
    ...f.mounts.map((m) => parseMountFlag(m, cwd)),
    ...f.tmpfs.map(parseTmpfsFlag),
  ];
  const seen = new Map<string, string>();
  for (const r of all) {
    const before = seen.get(r.target);
    if (before) throw new TcrError(`${r.flag}: duplicate mount point ${r.target} (also ${before})`);
    seen.set(r.target, r.flag);
  }
  return all;
}
