// Checks a config.json before anything is made, so a bad one fails with the
// field named and nothing left behind. Only what the kernel cannot report
// clearly itself is checked here.
import path from 'node:path';
import { SpecError } from '../errors.js';
import { capNumber, CAP_SETS } from '../linux/capabilities.js';
import { RLIMITS } from '../linux/rlimits.js';
import type { Spec, NamespaceType, Hook, IdMapping, Resources } from './types.js';

export const NAMESPACE_TYPES: NamespaceType[] = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'];
const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
const PROPAGATIONS = ['', 'private', 'rprivate', 'slave', 'rslave', 'shared', 'rshared', 'unbindable', 'runbindable'];
const DEVICE_TYPES = ['c', 'b', 'u', 'p'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0;
}

function checkStringArray(v: unknown, field: string): void {
  if (v === undefined) return;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SpecError(field, 'must be an array of strings');
}

function checkMappings(maps: IdMapping[] | undefined, field: string): void {
  if (maps === undefined) return;
  if (!Array.isArray(maps)) throw new SpecError(field, 'must be an array');
  maps.forEach((m, i) => {
    for (const k of ['containerID', 'hostID', 'size'] as const)
      if (!isUint(m?.[k])) throw new SpecError(`${field}[${i}].${k}`, 'must be a non-negative integer');
    if (m.size === 0) throw new SpecError(`${field}[${i}].size`, 'must be at least 1');
  });
}

function checkHook(h: Hook, field: string): void {
  if (!isObject(h)) throw new SpecError(field, 'must be an object');
  if (typeof h.path !== 'string' || !path.isAbsolute(h.path))
    throw new SpecError(`${field}.path`, `must be an absolute path, got ${JSON.stringify(h.path)}`);
  checkStringArray(h.args, `${field}.args`);
  checkStringArray(h.env, `${field}.env`);
  if (h.timeout !== undefined && (!Number.isInteger(h.timeout) || h.timeout <= 0))
    throw new SpecError(`${field}.timeout`, 'must be a positive number of seconds');
}

function checkLimit(v: unknown, field: string): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -1)
    throw new SpecError(field, `${JSON.stringify(v)} must be an integer, -1 for no limit`);
}

/** linux.resources.devices: the one check of device rules (the cgroup managers call it too). */
export function validateDeviceRules(devices: Resources['devices']): void {
  (devices ?? []).forEach((d, i) => {
    if (d.type !== undefined && !['a', 'c', 'b'].includes(d.type))
      throw new SpecError(`linux.resources.devices[${i}].type`, `unknown device type ${JSON.stringify(d.type)} (a, c or b)`);
    if (d.access !== undefined && (!/^[rwm]{1,3}$/.test(d.access) || new Set(d.access).size !== d.access.length))
      throw new SpecError(`linux.resources.devices[${i}].access`, `${JSON.stringify(d.access)} must be made of r, w and m`);
    if (typeof d.allow !== 'boolean') throw new SpecError(`linux.resources.devices[${i}].allow`, 'must be a boolean');
  });
}

/** linux.resources, from a config or from `update -r`: each bad field named. */
export function validateResources(r: Resources | undefined): void {
  if (r === undefined) return;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new SpecError('linux.resources', 'must be an object');
  checkLimit(r.memory?.limit, 'linux.resources.memory.limit');
  checkLimit(r.memory?.reservation, 'linux.resources.memory.reservation');
  checkLimit(r.memory?.swap, 'linux.resources.memory.swap');
  checkLimit(r.pids?.limit, 'linux.resources.pids.limit');
  checkLimit(r.cpu?.quota, 'linux.resources.cpu.quota');
  if (r.cpu?.shares !== undefined && !isUint(r.cpu.shares))
    throw new SpecError('linux.resources.cpu.shares', 'must be a non-negative integer');
  if (r.cpu?.period !== undefined && !isUint(r.cpu.period))
    throw new SpecError('linux.resources.cpu.period', 'must be a non-negative integer');
  for (const k of ['cpus', 'mems'] as const) {
    const v = r.cpu?.[k];
    if (v !== undefined && (typeof v !== 'string' || !/^(\d+(-\d+)?)?(,\d+(-\d+)?)*$/.test(v)))
      throw new SpecError(`linux.resources.cpu.${k}`, `${JSON.stringify(v)} is not a list like "0-2,4"`);
  }
  validateDeviceRules(r.devices);
  const n = r.network;
  if (n !== undefined) {
    if (n.classID !== undefined && !(isUint(n.classID) && n.classID <= 0xffffffff))
      throw new SpecError('linux.resources.network.classID', 'must be a 32-bit unsigned integer (major << 16 | minor)');
    (n.priorities ?? []).forEach((p, i) => {
      if (typeof p?.name !== 'string' || !/^[^\s/]{1,15}$/.test(p.name))
        throw new SpecError(`linux.resources.network.priorities[${i}].name`, 'must be an interface name');
      if (!isUint(p.priority)) throw new SpecError(`linux.resources.network.priorities[${i}].priority`, 'must be a non-negative integer');
    });
  }
}

/** Validates the parsed config; `forLaunch` also requires what create needs (process). */
export function validateSpec(spec: unknown, forLaunch = true): asserts spec is Spec {
  if (!isObject(spec)) throw new SpecError('(root)', 'must be a JSON object');
  const s = spec as unknown as Spec;
  if (typeof s.ociVersion !== 'string') throw new SpecError('ociVersion', 'is required and must be a string');
  if (!isObject(s.root) || typeof s.root.path !== 'string' || s.root.path === '') throw new SpecError('root.path', 'is required');
  if (s.root.readonly !== undefined && typeof s.root.readonly !== 'boolean') throw new SpecError('root.readonly', 'must be a boolean');

  const p = s.process;
  if (p === undefined) {
    if (forLaunch) throw new SpecError('process', 'is required to create a container');
  } else {
    if (!isObject(p)) throw new SpecError('process', 'must be an object');
    if (!Array.isArray(p.args) || p.args.length === 0) throw new SpecError('process.args', 'must be a non-empty array');
    checkStringArray(p.args, 'process.args');
    checkStringArray(p.env, 'process.env');
    (p.env ?? []).forEach((e, i) => {
      if (!e.includes('=')) throw new SpecError(`process.env[${i}]`, `${JSON.stringify(e)} is not NAME=value`);
    });
    if (typeof p.cwd !== 'string' || !path.isAbsolute(p.cwd))
      throw new SpecError('process.cwd', `must be an absolute path, got ${JSON.stringify(p.cwd)}`);
    if (!isObject(p.user)) throw new SpecError('process.user', 'is required');
    if (!isUint(p.user.uid)) throw new SpecError('process.user.uid', 'must be a non-negative integer');
    if (!isUint(p.user.gid)) throw new SpecError('process.user.gid', 'must be a non-negative integer');
    (p.user.additionalGids ?? []).forEach((g, i) => {
      if (!isUint(g)) throw new SpecError(`process.user.additionalGids[${i}]`, 'must be a non-negative integer');
    });
    if (p.user.umask !== undefined && (!isUint(p.user.umask) || p.user.umask > 0o777))
      throw new SpecError('process.user.umask', 'must be between 0 and 0777');
    if (p.capabilities !== undefined) {
      for (const set of CAP_SETS) {
        const names = p.capabilities[set];
        checkStringArray(names, `process.capabilities.${set}`);
        (names ?? []).forEach((n, i) => {
          if (capNumber(n) === undefined)
            throw new SpecError(`process.capabilities.${set}[${i}]`, `unknown capability ${JSON.stringify(n)}`);
        });
      }
    }
    const seen = new Set<string>();
    (p.rlimits ?? []).forEach((r, i) => {
      if (!(r?.type in RLIMITS)) throw new SpecError(`process.rlimits[${i}].type`, `unknown rlimit ${JSON.stringify(r?.type)}`);
      if (seen.has(r.type)) throw new SpecError(`process.rlimits[${i}].type`, `${r.type} is given twice`);
      seen.add(r.type);
      if (!isUint(r.soft) || !isUint(r.hard)) throw new SpecError(`process.rlimits[${i}]`, 'soft and hard must be non-negative integers');
      if (r.soft > r.hard) throw new SpecError(`process.rlimits[${i}]`, `soft limit ${r.soft} is above hard limit ${r.hard}`);
    });
    if (p.oomScoreAdj !== undefined && (!Number.isInteger(p.oomScoreAdj) || p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000))
      throw new SpecError('process.oomScoreAdj', 'must be an integer between -1000 and 1000');
  }

  (s.mounts ?? []).forEach((m, i) => {
    if (!isObject(m)) throw new SpecError(`mounts[${i}]`, 'must be an object');
    if (typeof m.destination !== 'string' || !path.isAbsolute(m.destination))
      throw new SpecError(`mounts[${i}].destination`, `must be an absolute path, got ${JSON.stringify(m.destination)}`);
    checkStringArray(m.options, `mounts[${i}].options`);
    if (m.type !== undefined && typeof m.type !== 'string') throw new SpecError(`mounts[${i}].type`, 'must be a string');
    const bind = (m.options ?? []).some((o) => o === 'bind' || o === 'rbind') || m.type === 'bind';
    if (bind && (typeof m.source !== 'string' || m.source === ''))
      throw new SpecError(`mounts[${i}].source`, 'a bind mount needs a source');
  });

  for (const name of HOOK_NAMES) {
    const list = s.hooks?.[name];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw new SpecError(`hooks.${name}`, 'must be an array');
    list.forEach((h, i) => checkHook(h, `hooks.${name}[${i}]`));
  }

  const l = s.linux ?? {};
  const types = new Set<string>();
  (l.namespaces ?? []).forEach((ns, i) => {
    if (!NAMESPACE_TYPES.includes(ns?.type))
      throw new SpecError(`linux.namespaces[${i}].type`, `unknown namespace type ${JSON.stringify(ns?.type)}`);
    if (types.has(ns.type)) throw new SpecError(`linux.namespaces[${i}].type`, `namespace ${ns.type} is listed twice`);
    types.add(ns.type);
    if (ns.path !== undefined && (typeof ns.path !== 'string' || !path.isAbsolute(ns.path)))
      throw new SpecError(`linux.namespaces[${i}].path`, 'must be an absolute path');
  });
  const newUser = (l.namespaces ?? []).some((n) => n.type === 'user' && !n.path);
  checkMappings(l.uidMappings, 'linux.uidMappings');
  checkMappings(l.gidMappings, 'linux.gidMappings');
  if (newUser && !(l.uidMappings?.length && l.gidMappings?.length))
    throw new SpecError('linux.uidMappings', 'a new user namespace needs uidMappings and gidMappings');
  if (!types.has('user') && (l.uidMappings?.length || l.gidMappings?.length))
    throw new SpecError('linux.uidMappings', 'mappings are given but there is no user namespace');
  if (s.hostname && !types.has('uts')) throw new SpecError('hostname', 'cannot be set without a uts namespace');
  if (s.domainname && !types.has('uts')) throw new SpecError('domainname', 'cannot be set without a uts namespace');
  if (l.timeOffsets && !types.has('time')) throw new SpecError('linux.timeOffsets', 'needs a time namespace');
  // without a mount namespace / is the host's mount: making it read-only would make the host's file system read-only
  if (!types.has('mount') && s.root?.readonly)
    throw new SpecError(
      'root.readonly',
      "needs a mount namespace (without one the container shares the host's mounts, and the root would be remounted read-only for the host too)",
    );
  for (const key of Object.keys(l.sysctl ?? {})) {
    if (!/^[a-z0-9_.\-/]+$/i.test(key) || key.includes('..')) throw new SpecError(`linux.sysctl.${key}`, 'is not a sysctl name');
    if (key.startsWith('net.') && !types.has('network')) throw new SpecError(`linux.sysctl.${key}`, 'needs a network namespace');
  }
  if (l.rootfsPropagation !== undefined && !PROPAGATIONS.includes(l.rootfsPropagation))
    throw new SpecError('linux.rootfsPropagation', `unknown propagation ${JSON.stringify(l.rootfsPropagation)}`);
  (l.devices ?? []).forEach((d, i) => {
    if (typeof d?.path !== 'string' || !path.isAbsolute(d.path))
      throw new SpecError(`linux.devices[${i}].path`, 'must be an absolute path');
    if (!DEVICE_TYPES.includes(d.type)) throw new SpecError(`linux.devices[${i}].type`, `unknown device type ${JSON.stringify(d.type)}`);
    if (d.type !== 'p' && (!isUint(d.major) || !isUint(d.minor)))
      throw new SpecError(`linux.devices[${i}]`, 'major and minor are required');
  });
  validateResources(l.resources);
  checkStringArray(l.maskedPaths, 'linux.maskedPaths');
  checkStringArray(l.readonlyPaths, 'linux.readonlyPaths');
  [...(l.maskedPaths ?? []), ...(l.readonlyPaths ?? [])].forEach((pth) => {
    if (!path.isAbsolute(pth)) throw new SpecError('linux.maskedPaths', `${JSON.stringify(pth)} must be absolute`);
  });
}
