// Device access rules: linux.resources.devices plus the devices every
// container may use (as runc allows them), normalised for both the v1
// devices.allow/deny files and the v2 eBPF program.
import type { DeviceCgroup } from '../spec/types.js';
import { validateDeviceRules } from '../spec/validate.js';

export interface DeviceRule {
  allow: boolean;
  /** 'a' (all), 'c' or 'b' */
  type: 'a' | 'c' | 'b';
  /** -1 = any */
  major: number;
  minor: number;
  access: string;
}

/** The devices runc lets every container open, after the spec's own rules. */
export const DEFAULT_ALLOWED: DeviceRule[] = [
  { allow: true, type: 'c', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'b', major: -1, minor: -1, access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // urandom
  { allow: true, type: 'c', major: 136, minor: -1, access: 'rwm' }, // pts
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // tun
];

/**
 * The spec's rules, then the defaults (which therefore win, as in runc). Nodes
 * listed in linux.devices get no rule of their own: the caller allows them
 * explicitly, as podman and containerd do.
 */
export function deviceRules(spec: DeviceCgroup[] | undefined): DeviceRule[] {
  validateDeviceRules(spec); // a rule written half-way would leave the cgroup between two policies
  const rules: DeviceRule[] = (spec ?? []).map((d) => ({
    allow: d.allow,
    type: (d.type ?? 'a') as DeviceRule['type'],
    major: d.major ?? -1,
    minor: d.minor ?? -1,
    access: d.access ?? 'rwm',
  }));
  rules.push(...DEFAULT_ALLOWED);
  return rules;
}

/** "c 1:3 rwm" as the v1 devices files take it. */
export function v1RuleText(r: DeviceRule): string {
  if (r.type === 'a') return 'a';
  const num = (n: number) => (n < 0 ? '*' : String(n));
  return `${r.type} ${num(r.major)}:${num(r.minor)} ${r.access}`;
}
