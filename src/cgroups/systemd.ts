// The systemd cgroup driver (--systemd-cgroup), cgroup v2 only: the container
// is a transient scope unit that systemd makes (StartTransientUnit, with
// Delegate=yes and the limits as unit properties), and then the same cgroup
// files are written as the cgroupfs v2 manager writes them (runc does both:
// the properties keep systemd from rewriting the files to its own defaults,
// the files carry what systemd has no property for). Everything that reads
// or writes the cgroup itself (freeze, kill, stats, exec's processes) is the
// v2 manager's, on the scope's directory.
//
// The order of a create: a scope is started with its first process, and the
// cgroup cannot exist before it. So create() makes nothing, set() before the
// scope exists only checks the limits (every bad value fails before the init
// is spawned) and keeps them, and the scope is started in applyInit(pid), at
// the init's first sync point, while the init waits for the runtime before
// running a step of the container's: systemd moves it into the new scope
// (PIDs=[pid]), then the files are written. The init is therefore cloned
// into the runtime's own cgroup, not straight into its own (unifiedDir() has
// no directory to give before the scope exists), as runc's init is.
//
// Crash safety: the unit's name is in the state record before the scope is
// asked for (the record is written before create()); a create killed at any
// moment takes its init with it (PDEATHSIG), systemd removes a scope whose
// last process has gone, and destroy() stops and resets the unit whether it
// is there or not, then removes the directory if systemd left it.
import { TcrError } from '../errors.js';
import { log } from '../log.js';
import type { Resources } from '../spec/types.js';
import { deviceRules } from './devices.js';
import type { CgroupManager, CgroupRecord } from './manager.js';
import { v2Writes, type CgroupWrite } from './resources.js';
import type { Stats } from './stats.js';
import type { Systemd } from './systemd-bus.js';
import { userManagerCgroup, type SystemdUnitPath } from './systemd-path.js';
import { V2Manager, warnV1Only } from './v2.js';

const MOUNT = '/sys/fs/cgroup';

/** A version beyond every property's minimum: checking a config converts every field it could. */
const ANY_VERSION = 1 << 30;

type Bus = typeof import('./systemd-bus.js');

async function withSystemd<T>(fn: (sd: Systemd, bus: Bus) => Promise<T>): Promise<T> {
  const bus = await import('./systemd-bus.js');
  const sd = await bus.Systemd.connect();
  try {
    return await fn(sd, bus);
  } finally {
    sd.close();
  }
}

function deviceList(resources: Resources) {
  return resources.devices ? deviceRules(resources.devices) : undefined;
}

export class SystemdManager implements CgroupManager {
  private readonly files: V2Manager;
  /** the limits of a create, kept by set() until the scope is started with them */
  private pending: Resources | undefined;
  /** systemd accepted this process's StartTransientUnit: the unit is this container's to stop */
  private asked = false;

  /** `creating`: a container being created (its scope is started by applyInit); without it, a recorded one whose unit may run. */
  constructor(
    readonly record: CgroupRecord,
    private readonly creating?: SystemdUnitPath,
  ) {
    this.files = new V2Manager({ kind: 'v2', path: record.path, dirs: record.dirs });
  }

  static forUnit(u: SystemdUnitPath): SystemdManager {
    return new SystemdManager({ kind: 'systemd', path: u.path, dirs: [MOUNT + u.path], unit: u.unit, slice: u.slice }, u);
  }

  private get unit(): string {
    return this.record.unit!;
  }

  create(): void {
    // nothing: the scope is made with its first process (applyInit)
  }

  async set(resources: Resources): Promise<void> {
    warnV1Only(resources);
    if (this.creating && !this.asked) {
      // a create: the values are checked now, before the init exists, and given when the scope starts
      await this.convert(resources, ANY_VERSION, true);
      this.pending = resources;
      return;
    }
    // as runc's Set: the unit's properties first (runtime: they go with the unit), then the files
    const writes = await withSystemd(async (sd) => {
      const { properties, writes } = await this.convert(resources, await sd.version(), false);
      await sd.setUnitProperties(this.unit, properties);
      return writes;
    });
    await this.files.write(writes, resources.devices);
  }

  private async convert(resources: Resources, version: number, starting: boolean) {
    const { unitResources } = await import('./systemd-bus.js');
    return unitResources(v2Writes(resources), { version, devices: deviceList(resources), starting, warn: (m) => log.warn(m) });
  }

  async applyInit(pid: number, already?: ReadonlySet<string>): Promise<void> {
    const u = this.creating;
    if (!u) return this.apply(pid, already);
    const resources = this.pending ?? {};
    let writes: CgroupWrite[] = [];
    await withSystemd(async (sd, bus) => {
      await this.checkManagerCgroup(sd);
      const converted = await this.convert(resources, await sd.version(), true);
      writes = converted.writes;
      const base = [
        { name: 'Description', signature: 's', value: `tcr container ${u.name}` },
        { name: 'Slice', signature: 's', value: u.slice },
        { name: 'Delegate', signature: 'b', value: true },
        { name: 'PIDs', signature: 'au', value: [pid] },
        // accounting on from the start, as runc has it: the kernel is slow to account a process that joined late
        { name: 'MemoryAccounting', signature: 'b', value: true },
        { name: 'CPUAccounting', signature: 'b', value: true },
        { name: 'IOAccounting', signature: 'b', value: true },
        { name: 'TasksAccounting', signature: 'b', value: true },
        { name: 'DefaultDependencies', signature: 'b', value: false },
      ];
      // from the moment it is sent the unit may exist and be this container's; a refusal says it is not
      this.asked = true;
      try {
        await sd.startTransientUnit(u.unit, [...base, ...converted.properties]);
      } catch (e) {
        if (e instanceof bus.SystemdError && e.call === 'StartTransientUnit') this.asked = false;
        throw e;
      }
    });
    this.pending = undefined;
    await this.files.write(writes, resources.devices);
  }

  /**
   * A user's scope is under their manager's cgroup, which the state record
   * spells before systemd can be asked (user@UID.service's usual place); a
   * manager elsewhere is refused before any unit is made.
   */
  private async checkManagerCgroup(sd: Systemd): Promise<void> {
    const uid = process.geteuid?.() ?? 0;
    if (uid === 0) return;
    const managerCg = await sd.controlGroup();
    const expected = userManagerCgroup(uid);
    if (managerCg !== expected)
      throw new TcrError(
        `--systemd-cgroup: the user's systemd runs in ${managerCg || '(no cgroup)'}, not in ${expected} where tcr puts uid ${uid}'s scopes; run it as user@${uid}.service (systemctl start user@${uid}.service, or log in)`,
      );
  }

  /** A process of exec joins the scope's cgroup directly (Delegate=yes makes it the container's to manage). */
  apply(pid: number, already?: ReadonlySet<string>): void {
    this.files.apply(pid, already);
  }

  /** cgroup2 only: nothing a process joins by itself */
  selfJoinDirs(): string[] {
    return [];
  }

  procs(): number[] {
    return this.files.procs();
  }

  freeze(): void {
    this.files.freeze();
  }

  thaw(): void {
    this.files.thaw();
  }

  isFrozen(): boolean {
    return this.files.isFrozen();
  }

  signalAll(signal: number): void {
    this.files.signalAll(signal);
  }

  stats(): Stats {
    return this.files.stats();
  }

  oomKills(): number {
    return this.files.oomKills();
  }

  async destroy(): Promise<void> {
    // a create that failed before systemd accepted its scope has nothing of systemd's to undo (and the
    // name may be another's: a unit that already existed is refused, and must not be stopped)
    if (!this.creating || this.asked) {
      await withSystemd(async (sd) => {
        await sd.stopUnit(this.unit);
        await sd.resetFailedUnit(this.unit);
      });
    }
    await this.files.destroy();
  }

  mountSources(): Map<string, string> {
    return this.files.mountSources();
  }

  unifiedDir(): string | undefined {
    return undefined;
  }
}
