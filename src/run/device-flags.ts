// --device and --privileged's devices: host device nodes made in the
// container's /dev, each with the cgroup rule that lets it be used. The host
// path is resolved (a /dev/disk/by-id link names the node itself, as docker
// resolves it), and a path that is no device is refused before anything is made.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError } from '../errors.js';
import type { Device, DeviceCgroup } from '../spec/types.js';

export interface DeviceGrant {
  node: Device;
  rule: DeviceCgroup;
}

function nodeOf(st: fs.Stats, ctrPath: string): Device | undefined {
  const type = st.isCharacterDevice() ? 'c' : st.isBlockDevice() ? 'b' : undefined;
  if (!type) return undefined;
  // rdev: major in bits 8-19 (and 32+), minor in bits 0-7 and 20-31, as the kernel's new_encode_dev
  const major = ((st.rdev >> 8) & 0xfff) | (Math.floor(st.rdev / 2 ** 32) * 0x1000);
  const minor = (st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00);
  return { type, path: ctrPath, major, minor, fileMode: st.mode & 0o777, uid: st.uid, gid: st.gid };
}

/** One --device as docker's inspect shows it in HostConfig.Devices: the paths as given, not resolved. */
export interface DeviceMapping {
  PathOnHost: string;
  PathInContainer: string;
  CgroupPermissions: string;
}

/** --device HOST[:CONTAINER][:PERMISSIONS] split, PERMISSIONS from r, w, m (default rwm). */
export function deviceMapping(v: string): DeviceMapping {
  const where = `--device ${JSON.stringify(v)}`;
  const parts = v.split(':');
  let perms = 'rwm';
  if (parts.length > 1 && /^[rwm]+$/.test(parts[parts.length - 1]) && !parts[parts.length - 1].startsWith('/')) perms = parts.pop()!;
  if (parts.length > 2 || parts.some((p) => !p)) throw new TcrError(`${where}: give HOST-PATH[:CONTAINER-PATH][:rwm]`);
  const [host, ctr = host] = parts;
  if (!path.isAbsolute(host) || !path.isAbsolute(ctr)) throw new TcrError(`${where}: both paths must be absolute`);
  return { PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms };
}

/** A --device's nodes and cgroup rules; a directory gives each device under it. */
export function parseDevice(v: string): DeviceGrant[] {
  const where = `--device ${JSON.stringify(v)}`;
  const { PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms } = deviceMapping(v);
  let real: string;
  let st: fs.Stats;
  try {
    real = fs.realpathSync(host);
    st = fs.statSync(real);
  } catch {
    throw new TcrError(`${where}: ${host} does not exist on the host`);
  }
  const rule = (d: Device): DeviceGrant => ({
    node: d,
    rule: { allow: true, type: d.type, major: d.major, minor: d.minor, access: perms },
  });
  if (st.isDirectory()) {
    const found = walkDevices(real, path.posix.normalize(ctr));
    if (!found.length) throw new TcrError(`${where}: ${host} is a directory with no device nodes`);
    return found.map(rule);
  }
  const node = nodeOf(st, path.posix.normalize(ctr));
  if (!node) throw new TcrError(`${where}: ${host} is not a character or block device`);
  return [rule(node)];
}

/** /dev's entries that are not devices of their own: runc's and docker's list. */
const NOT_DEVICES = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);

/** Every device node under `dir` (symlinks not followed), as `ctrDir/...`. */
function walkDevices(dir: string, ctrDir: string): Device[] {
  const out: Device[] = [];
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const p = path.join(dir, name);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      if (!NOT_DEVICES.has(name)) out.push(...walkDevices(p, path.posix.join(ctrDir, name)));
      continue;
    }
    const node = nodeOf(st, path.posix.join(ctrDir, name));
    // /dev/console is the container's own terminal; 0:0 nodes are overlay whiteouts, not devices
    if (node && p !== '/dev/console' && !(node.major === 0 && node.minor === 0)) out.push(node);
  }
  return out;
}

/** --privileged: every device node of the host's /dev, with one rule allowing all devices (docker's `a *:* rwm`). */
export function hostDevices(): DeviceGrant[] {
  return walkDevices('/dev', '/dev').map((node) => ({
    node,
    rule: { allow: true, type: node.type, major: node.major, minor: node.minor, access: 'rwm' },
  }));
}
