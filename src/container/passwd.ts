// A rootfs's own /etc/passwd and /etc/group: the image's User (or -u: "uid",
// "uid:gid", "name", "name:group") resolved as docker does, and the HOME a
// process gets when nothing sets it, as runc does (so the lifecycle uses it too).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { User } from '../spec/types.js';

interface Entry {
  name: string;
  id: number;
  gid?: number;
  home?: string;
  members?: string[];
}

/** A file of the image as the container will see it: the topmost layer that has it (a whiteout hides it). */
function readFromLayers(layers: string[], file: string): string {
  const parts = file.split('/');
  for (const layer of layers) {
    const p = path.join(layer, file);
    let st: fs.Stats;
    try {
      // a directory on the way that is a symlink (etc -> /etc) would lead out of the image, to the host's file
      for (let i = 1; i < parts.length; i++) if (!fs.lstatSync(path.join(layer, ...parts.slice(0, i))).isDirectory()) return '';
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    // overlay whiteout (0/0 char device), or a symlink we will not follow out of the image
    if (!st.isFile()) return '';
    return fs.readFileSync(p, 'utf8');
  }
  return '';
}

function readDb(layers: string[], file: string, kind: 'passwd' | 'group'): Entry[] {
  const text = readFromLayers(layers, file);
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const f = l.split(':');
      return kind === 'passwd'
        ? { name: f[0], id: Number(f[2]), gid: Number(f[3]), home: f[5] }
        : { name: f[0], id: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) };
    });
}

/**
 * HOME for a process that has none, as runc and every engine set it: the
 * user's entry in the root's own /etc/passwd, or / (read as the layers are:
 * no symlink on the way is followed out of the root).
 */
export function withHome(env: string[] | undefined, uid: number, roots: string[]): string[] {
  const have = env ?? [];
  if (have.some((e) => e.startsWith('HOME='))) return have;
  const home = readDb(roots, 'etc/passwd', 'passwd').find((p) => p.id === uid)?.home;
  return [...have, `HOME=${home && home.startsWith('/') ? home : '/'}`];
}

/** --group-add's values: a gid, or a group name of the image's /etc/group. */
function groupAddIds(values: string[], groups: Entry[]): number[] {
  return values.map((v) => {
    if (/^\d+$/.test(v)) return Number(v);
    const e = groups.find((x) => x.name === v);
    if (!e) throw new TcrError(`--group-add ${JSON.stringify(v)}: no such group in the image's /etc/group`);
    return e.id;
  });
}

/** The user (none: root, whose supplementary groups docker adds too) and its groups: the image's /etc/group memberships, then `groupAdd`. */
export function resolveUser(spec: string | undefined, layers: string[], groupAdd: string[] = []): User {
  const [u, g] = (spec || '0').split(':', 2);
  const passwd = readDb(layers, 'etc/passwd', 'passwd');
  const groups = readDb(layers, 'etc/group', 'group');
  let uid: number;
  let gid: number | undefined;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const e = passwd.find((p) => p.id === uid);
    gid = e?.gid;
    name = e?.name;
  } else {
    const e = passwd.find((p) => p.name === u);
    if (!e) throw new TcrError(`user ${JSON.stringify(u)}: no such user in the image's /etc/passwd`);
    uid = e.id;
    gid = e.gid;
    name = e.name;
  }
  if (g !== undefined) {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const e = groups.find((x) => x.name === g);
      if (!e) throw new TcrError(`group ${JSON.stringify(g)}: no such group in the image's /etc/group`);
      gid = e.id;
    }
  }
  // as runc's user lookup: the memberships count only when no group is given
  const members = name && g === undefined ? groups.filter((x) => x.members?.includes(name)).map((x) => x.id) : [];
  const additionalGids = [...new Set([...members, ...groupAddIds(groupAdd, groups)])].filter((x) => x !== (gid ?? 0));
  return { uid, gid: gid ?? 0, ...(additionalGids.length ? { additionalGids } : {}) };
}
