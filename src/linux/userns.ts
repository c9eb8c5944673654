// Whether the runtime itself runs in a user namespace other than the host's,
// as rootless podman calls it: podman re-executes itself in a namespace
// mapping the user to root (and their /etc/subuid ranges to the rest) and
// runs the OCI runtime there, so tcr is uid 0 without the host's privileges.
// runc's userns.RunningInUserNS decides it the same way: the initial
// namespace maps the whole id space, 0 0 4294967295, and nothing else does.
import fs from 'node:fs';

let cached: boolean | undefined;

/** True when the uid_map text is not the initial namespace's identity map of all 2^32 ids. */
export function mapIsNotInitial(uidMap: string): boolean {
  const lines = uidMap.split('\n').filter((l) => l.trim());
  if (lines.length !== 1) return true;
  const [inside, outside, count] = lines[0].trim().split(/\s+/).map(Number);
  return !(inside === 0 && outside === 0 && count === 4294967295);
}

/** The runtime runs in a non-initial user namespace (read once from /proc/self/uid_map; none there: the initial one). */
export function inUserNamespace(): boolean {
  if (cached === undefined) {
    try {
      cached = mapIsNotInitial(fs.readFileSync('/proc/self/uid_map', 'utf8'));
    } catch {
      cached = false; // no /proc or no user namespaces in the kernel: only the initial one exists
    }
  }
  return cached;
}

/** The host id that `id` of the namespace whose uid_map (or gid_map) this is stands for, or undefined where it is unmapped. */
export function hostIdIn(map: string, id: number): number | undefined {
  for (const line of map.split('\n')) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (id >= inside && id < inside + count) return outside + (id - inside);
  }
  return undefined;
}

/** The host uid the runtime's effective uid stands for: itself in the initial namespace. */
export function hostUid(): number {
  const uid = process.geteuid?.() ?? 0;
  if (!inUserNamespace()) return uid;
  try {
    return hostIdIn(fs.readFileSync('/proc/self/uid_map', 'utf8'), uid) ?? uid;
  } catch {
    return uid;
  }
}

/** Text for /proc/PID/uid_map or gid_map. */
export function idMapText(maps: { containerID: number; hostID: number; size: number }[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join('');
}
