// /dev inside the container: the default device nodes every container gets,
// linux.devices, and the /dev symlinks. In a new user namespace mknod is not
// allowed, so nodes are bind-mounted from the host's /dev instead, as runc does.
import type { Device, Spec } from '../spec/types.js';
import { MS } from './mounts.js';
import { Step, StepFlag, type PlanStep } from './plan-steps.js';

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

export const DEFAULT_DEVICES: Device[] = [
  { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/zero', major: 1, minor: 5, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/full', major: 1, minor: 7, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/random', major: 1, minor: 8, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/urandom', major: 1, minor: 9, fileMode: 0o666, uid: 0, gid: 0 },
  { type: 'c', path: '/dev/tty', major: 5, minor: 0, fileMode: 0o666, uid: 0, gid: 0 },
];

const DEV_LINKS: [string, string][] = [
  ['/proc/self/fd', '/dev/fd'],
  ['/proc/self/fd/0', '/dev/stdin'],
  ['/proc/self/fd/1', '/dev/stdout'],
  ['/proc/self/fd/2', '/dev/stderr'],
];

function typeBits(t: Device['type']): number {
  return t === 'b' ? S_IFBLK : t === 'p' ? S_IFIFO : S_IFCHR;
}

/** True when spec.mounts binds the host's /dev wholesale (then nothing is made). */
export function devIsBound(spec: Spec): boolean {
  return (spec.mounts ?? []).some(
    (m) =>
      m.destination.replace(/\/+$/, '') === '/dev' && (m.type === 'bind' || (m.options ?? []).some((o) => o === 'bind' || o === 'rbind')),
  );
}

export function deviceSteps(spec: Spec, userns: boolean): PlanStep[] {
  if (devIsBound(spec)) return [];
  const steps: PlanStep[] = [];
  const wanted = new Map<string, Device>();
  for (const d of [...DEFAULT_DEVICES, ...(spec.linux?.devices ?? [])]) wanted.set(d.path, d);
  const parents = new Set<string>();
  for (const d of wanted.values()) {
    if (userns && d.type !== 'p') {
      steps.push(Step.mkfile({ path: d.path, mode: 0o644, label: `create file ${d.path} (bind target)` }));
      steps.push(
        Step.mount({
          source: d.path,
          target: d.path,
          mountFlags: MS.BIND,
          inRoot: true,
          label: `bind host ${d.path} on ${d.path} (no mknod in a user namespace)`,
        }),
      );
      continue;
    }
    const mode = typeBits(d.type) | ((d.fileMode ?? 0o666) & 0o7777);
    const owner = (BigInt(d.uid ?? 0) << 32n) | BigInt(d.gid ?? 0);
    const parent = d.path.slice(0, d.path.lastIndexOf('/')) || '/';
    if (!parents.has(parent)) steps.push(Step.mkdir({ path: parent, mode: 0o755, label: `mkdir ${parent}` }));
    parents.add(parent);
    steps.push(
      Step.mknod({
        path: d.path,
        mode,
        major: d.major ?? 0,
        minor: d.minor ?? 0,
        owner,
        flags: StepFlag.ignoreEexist,
        label: `mknod ${d.path} ${d.type} ${d.major ?? 0}:${d.minor ?? 0} mode ${(mode & 0o7777).toString(8)} owner ${d.uid ?? 0}:${d.gid ?? 0}`,
      }),
    );
  }
  for (const [target, link] of DEV_LINKS)
    steps.push(Step.symlink({ target, linkpath: link, flags: StepFlag.ignoreEexist, label: `symlink ${link} -> ${target}` }));
  const hasPts = (spec.mounts ?? []).some((m) => m.destination === '/dev/pts');
  if (hasPts)
    steps.push(
      Step.symlink({ target: 'pts/ptmx', linkpath: '/dev/ptmx', flags: StepFlag.ignoreEexist, label: 'symlink /dev/ptmx -> pts/ptmx' }),
    );
  return steps;
}
