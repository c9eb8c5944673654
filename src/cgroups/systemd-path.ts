// How a cgroupsPath names a systemd unit, by runc's rules: "slice:prefix:name"
// is the unit prefix-name.scope in that slice (system.slice when empty), and
// the cgroup is where systemd puts it: the slice's name spells its parents
// (a-b.slice is /a.slice/a-b.slice). Pure, so the rules are unit-tested.
import { TcrError } from '../errors.js';

export interface SystemdUnitPath {
  /** the slice the scope goes in, e.g. kubepods-besteffort.slice */
  slice: string;
  /** the scope unit, e.g. cri-containerd-abc.scope */
  unit: string;
  /** its cgroup below /sys/fs/cgroup, e.g. /kubepods.slice/kubepods-besteffort.slice/cri-containerd-abc.scope */
  path: string;
  /** the name part of the cgroupsPath: the unit's description names it */
  name: string;
}

const FIELD = 'linux.cgroupsPath';

/** "a-b-c.slice" → /a.slice/a-b.slice/a-b-c.slice, as systemd nests slices; "-.slice" is the root. */
export function expandSlice(slice: string, field = FIELD): string {
  const bad = (why: string) => new TcrError(`${field}: ${JSON.stringify(slice)} is not a slice name: ${why}`);
  if (!slice.endsWith('.slice') || slice === '.slice') throw bad('it must end in ".slice"');
  if (slice.includes('/')) throw bad('it must not contain "/"');
  const stem = slice.slice(0, -'.slice'.length);
  if (stem === '-') return '/';
  const parts = stem.split('-');
  // systemd spells a parent with each "-": "a--b.slice" and "-a.slice" have an empty one
  if (parts.some((p) => p === '')) throw bad('a "-" at its start or end, or two in a row, would name a parent slice without a name');
  checkUnitChars(slice, field);
  const out: string[] = [];
  for (let i = 1; i <= parts.length; i++) out.push(`${parts.slice(0, i).join('-')}.slice`);
  return '/' + out.join('/');
}

/** systemd's unit name alphabet (unit_name_is_valid): anything else is refused by StartTransientUnit. */
function checkUnitChars(unit: string, field: string): void {
  const bad = /[^A-Za-z0-9:_.\\@-]/.exec(unit);
  if (bad)
    throw new TcrError(
      `${field}: ${JSON.stringify(unit)} is not a systemd unit name: ${JSON.stringify(bad[0])} is not allowed (letters, digits and ":-_.\\@" only)`,
    );
  if (unit.length > 255) throw new TcrError(`${field}: ${JSON.stringify(unit)} is not a systemd unit name: longer than 255 characters`);
}

/** Where a user's manager (user@UID.service) runs, as systemd's user-UID.slice puts it: its slices nest below. */
export const userManagerCgroup = (uid: number): string => `/user.slice/user-${uid}.slice/user@${uid}.service`;

/**
 * The unit for `--systemd-cgroup`. Without a cgroupsPath runc uses
 * system.slice:runc:ID; tcr's prefix is its own name. `managerCgroup`: a
 * user's manager's cgroup, for an ordinary user's container (runc
 * --rootless): the slice is then the user manager's, user.slice by default,
 * and the scope's cgroup lies under the manager's.
 */
export function systemdUnitPath(cgroupsPath: string | undefined, id: string, managerCgroup?: string): SystemdUnitPath {
  const defaultSlice = managerCgroup ? 'user.slice' : 'system.slice';
  const spec = cgroupsPath || `${defaultSlice}:tcr:${id}`;
  const parts = spec.split(':');
  if (parts.length !== 3)
    throw new TcrError(
      `${FIELD}: ${JSON.stringify(spec)} is not of the form "slice:prefix:name", which --systemd-cgroup needs (e.g. "system.slice:tcr:${id}")`,
    );
  const [slicePart, prefix, name] = parts;
  const slice = slicePart || defaultSlice;
  const slicePath = expandSlice(slice);
  if (!name) throw new TcrError(`${FIELD}: ${JSON.stringify(spec)} has an empty name (the part after the second ":")`);
  // runc makes a name ending in .slice a slice unit of its own; systemd keeps processes out of
  // slices (a slice takes no PIDs), so a container there could never start: refused before anything is made
  if (name.endsWith('.slice'))
    throw new TcrError(
      `${FIELD}: ${JSON.stringify(spec)} names a slice (${name}), and systemd puts no process in a slice: name a scope (without ".slice") for the container`,
    );
  const unit = `${prefix}-${name}.scope`;
  checkUnitChars(unit, FIELD);
  return { slice, unit, path: `${managerCgroup ?? ''}${slicePath === '/' ? '' : slicePath}/${unit}`, name };
}
