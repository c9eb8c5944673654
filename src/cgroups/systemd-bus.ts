// The few calls of systemd's D-Bus API (org.freedesktop.systemd1.Manager)
// that the systemd cgroup driver makes, on the system bus (or systemd's
// private socket where there is none); for an ordinary user, on the user's
// session bus, to their own manager (systemd --user), as runc --rootless
// does. Each job a call
// queues is waited for through the JobRemoved signal, with a timeout, and
// every failure names the call, the unit and systemd's error. Loaded only
// for --systemd-cgroup containers: it is a bundle of its own
// (dist/tcr-systemd.cjs, with the D-Bus library), so other commands never
// pay for it.
import * as dbus from '@jellybrick/dbus-next';
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import type { UnitProperty } from './systemd-props.js';

export { unitResources } from './systemd-props.js';

const DEST = 'org.freedesktop.systemd1';
const PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
/** runc waits as long for a unit to start or stop */
export const JOB_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 10_000;
const PRIVATE_SOCKET = 'unix:path=/run/systemd/private';

const isRoot = () => (process.geteuid?.() ?? 0) === 0;

/** The user's bus, found as runc (go-systemd) finds it: $DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus. */
export function userBusAddress(env: NodeJS.ProcessEnv = process.env, exists = fs.existsSync): string {
  if (env.DBUS_SESSION_BUS_ADDRESS) return env.DBUS_SESSION_BUS_ADDRESS;
  const uid = process.geteuid?.() ?? 0;
  const dir = env.XDG_RUNTIME_DIR;
  if (dir && exists(`${dir}/bus`)) return `unix:path=${dir}/bus`;
  throw new TcrError(
    `--systemd-cgroup: uid ${uid} is not root, so tcr talks to the user's systemd (systemd --user) on the user's bus, and there is none: $DBUS_SESSION_BUS_ADDRESS is unset and ${dir ? `${dir}/bus does not exist` : '$XDG_RUNTIME_DIR is unset'}; log in (or, as root, loginctl enable-linger or systemctl start user@${uid}.service), and install dbus-user-session`,
  );
}

function busAddress(): string {
  if (!isRoot()) return userBusAddress();
  return process.env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket';
}

function withTimeout<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TcrError(what())), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class Systemd {
  /** JobRemoved results by job path, kept from subscription on: a job may finish before its call's reply is read */
  private readonly finished = new Map<string, string>();
  private readonly waiters = new Map<string, (result: string) => void>();
  private cachedVersion: number | undefined;

  private constructor(private readonly bus: dbus.MessageBus) {
    bus.on('message', (m: dbus.Message) => {
      if (m.type !== dbus.MessageType.SIGNAL || m.interface !== MANAGER || m.member !== 'JobRemoved') return;
      const [, job, , result] = m.body as [number, string, string, string];
      const w = this.waiters.get(job);
      if (w) w(result);
      else this.finished.set(job, result);
    });
  }

  /**
   * The system bus; where it cannot be reached, root falls back to
   * systemd's private socket, as runc (go-systemd) does: a direct connection
   * to systemd without a bus daemon (no Hello, no match rules: systemd sends
   * the signals of a subscribed peer straight to it).
   */
  static async connect(): Promise<Systemd> {
    const address = busAddress();
    try {
      return await Systemd.open(address, false);
    } catch (e) {
      if (!isRoot() || process.env.DBUS_SYSTEM_BUS_ADDRESS) throw e;
      try {
        return await Systemd.open(PRIVATE_SOCKET, true);
      } catch {
        throw e; // the system bus's error says more
      }
    }
  }

  private static async open(address: string, direct: boolean): Promise<Systemd> {
    const bus = dbus.sessionBus({ busAddress: address });
    // its typings list no 'error' event, which it emits for a socket that fails
    const events = bus as unknown as EventEmitter;
    const kind = direct ? "systemd's private socket" : isRoot() ? 'the system bus' : "the user's bus";
    const where = `--systemd-cgroup: ${kind} (${address})`;
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        bus.once('connect', () => resolve());
        events.once('error', (e: Error) => {
          // systemd itself is no bus: it refuses the bus daemon's Hello, and then answers as usual
          if (direct && e instanceof dbus.DBusError) resolve();
          else reject(new TcrError(`${where}: ${e.message} (is dbus running?)`));
        });
      }),
      CONNECT_TIMEOUT_MS,
      () => `${where}: no answer in ${CONNECT_TIMEOUT_MS / 1000} s`,
    ).catch((e) => {
      bus.disconnect();
      throw e;
    });
    events.on('error', () => {}); // a later socket error fails the pending call instead
    const sd = new Systemd(bus);
    try {
      if (!direct)
        await sd.call('org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', [
          `type='signal',sender='${DEST}',interface='${MANAGER}',member='JobRemoved'`,
        ]);
      // systemd sends its signals only while some client has subscribed
      await sd.manager('Subscribe', '', []);
    } catch (e) {
      sd.close();
      throw e;
    }
    return sd;
  }

  close(): void {
    this.bus.disconnect();
  }

  private async call(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
  ): Promise<unknown[]> {
    try {
      const reply = await withTimeout(
        this.bus.call(new dbus.Message({ destination, path, interface: iface, member, signature, body })),
        JOB_TIMEOUT_MS,
        () => `systemd: ${member}: no answer in ${JOB_TIMEOUT_MS / 1000} s`,
      );
      return reply?.body ?? [];
    } catch (e) {
      if (e instanceof dbus.DBusError) throw new SystemdError(member, e.type, e.text);
      if (e instanceof TcrError) throw e;
      throw new TcrError(`systemd: ${member}: ${(e as Error).message}`);
    }
  }

  private manager(member: string, signature: string, body: unknown[]): Promise<unknown[]> {
    return this.call(DEST, PATH, MANAGER, member, signature, body);
  }

  /** systemd's version number ("252.39-1~deb12u2" → 252): properties newer than it are left out. */
  async version(): Promise<number> {
    if (this.cachedVersion !== undefined) return this.cachedVersion;
    const [v] = await this.call(DEST, PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [MANAGER, 'Version']);
    const value: unknown = (v as dbus.Variant).value;
    const text = typeof value === 'string' ? value : '';
    this.cachedVersion = Number(/^"?v?(\d+)/.exec(text)?.[1] ?? 0);
    return this.cachedVersion;
  }

  /** The manager's own cgroup: for a user's manager, e.g. /user.slice/user-1000.slice/user@1000.service, which its slices are under. */
  async controlGroup(): Promise<string> {
    const [v] = await this.call(DEST, PATH, 'org.freedesktop.DBus.Properties', 'Get', 'ss', [MANAGER, 'ControlGroup']);
    const value: unknown = (v as dbus.Variant).value;
    return typeof value === 'string' ? value : '';
  }

  /** Runs a job-queueing call and waits for its JobRemoved: resolves with the job's result ("done", "failed", ...). */
  private async job(what: string, start: () => Promise<unknown[]>): Promise<string> {
    const [job] = (await start()) as [string];
    const early = this.finished.get(job);
    if (early !== undefined) return early;
    return withTimeout(
      new Promise<string>((resolve) => this.waiters.set(job, resolve)),
      JOB_TIMEOUT_MS,
      () => `systemd: ${what}: the job did not finish in ${JOB_TIMEOUT_MS / 1000} s`,
    ).finally(() => this.waiters.delete(job));
  }

  async startTransientUnit(unit: string, props: UnitProperty[]): Promise<void> {
    const properties = props.map((p) => [p.name, new dbus.Variant(p.signature, p.value)]);
    const start = () =>
      this.job(`starting ${unit}`, () => this.manager('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', properties, []]));
    let result: string;
    try {
      result = await start();
    } catch (e) {
      if (!(e instanceof SystemdError && e.type === 'org.freedesktop.systemd1.UnitExists')) throw e;
      // as runc: a unit of that name that failed earlier stays until reset; reset it and try once more
      await this.resetFailedUnit(unit);
      result = await start();
    }
    if (result !== 'done') {
      await this.resetFailedUnit(unit).catch(() => {});
      throw new TcrError(`systemd: starting ${unit}: the job ended "${result}" (see journalctl -u ${unit})`);
    }
  }

  /** Stops the unit and waits; a unit that is not there (never started, or gone with its last process) is stopped. */
  async stopUnit(unit: string): Promise<void> {
    try {
      const result = await this.job(`stopping ${unit}`, () => this.manager('StopUnit', 'ss', [unit, 'replace']));
      if (result !== 'done') throw new TcrError(`systemd: stopping ${unit}: the job ended "${result}"`);
    } catch (e) {
      if (!(e instanceof SystemdError && e.type === 'org.freedesktop.systemd1.NoSuchUnit')) throw e;
    }
  }

  /** Lets systemd forget a failed unit (its name is then free again); a unit it does not know is no error. */
  async resetFailedUnit(unit: string): Promise<void> {
    try {
      await this.manager('ResetFailedUnit', 's', [unit]);
    } catch (e) {
      if (!(e instanceof SystemdError && e.type === 'org.freedesktop.systemd1.NoSuchUnit')) throw e;
    }
  }

  /** runtime=true: the change lasts until the unit goes, as for a transient unit it should. */
  async setUnitProperties(unit: string, props: UnitProperty[]): Promise<void> {
    if (!props.length) return;
    const properties = props.map((p) => [p.name, new dbus.Variant(p.signature, p.value)]);
    await this.manager('SetUnitProperties', 'sba(sv)', [unit, true, properties]);
  }
}

/** An error reply from systemd, with its D-Bus error name. */
export class SystemdError extends TcrError {
  constructor(
    readonly call: string,
    readonly type: string,
    text: string,
  ) {
    super(`systemd: ${call}: ${text} (${type})`);
  }
}
