// The systemd driver's pure parts: cgroupsPath → unit, slice and cgroup path
// (runc's rules), and linux.resources → unit properties (as runc converts).
import { describe, expect, it } from 'vitest';
import { cgroupLayout } from '../../src/cgroups/detect.js';
import { deviceRules } from '../../src/cgroups/devices.js';
import { managerFor } from '../../src/cgroups/manager.js';
import { v2Writes } from '../../src/cgroups/resources.js';
import { userBusAddress } from '../../src/cgroups/systemd-bus.js';
import { expandSlice, systemdUnitPath, userManagerCgroup } from '../../src/cgroups/systemd-path.js';
import { deviceProperties, INFINITY, rangeToBits, unitResources, type UnitProperty } from '../../src/cgroups/systemd-props.js';
import type { Resources } from '../../src/spec/types.js';

const props = (r: Resources, version = 252, starting = true) =>
  unitResources(v2Writes(r), { version, starting, devices: r.devices ? deviceRules(r.devices) : undefined });
const byName = (list: UnitProperty[]) => Object.fromEntries(list.map((p) => [p.name, p.value]));

describe('cgroupsPath → systemd unit', () => {
  it('slice:prefix:name is prefix-name.scope in that slice, at the path systemd gives it', () => {
    expect(systemdUnitPath('system.slice:tcr-test:abc', 'x')).toEqual({
      slice: 'system.slice',
      unit: 'tcr-test-abc.scope',
      path: '/system.slice/tcr-test-abc.scope',
      name: 'abc',
    });
    expect(systemdUnitPath('kubepods-besteffort-pod123.slice:cri-containerd:abc', 'x')).toEqual({
      slice: 'kubepods-besteffort-pod123.slice',
      unit: 'cri-containerd-abc.scope',
      path: '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice/cri-containerd-abc.scope',
      name: 'abc',
    });
  });

  it("an ordinary user's unit is their manager's: user.slice by default, under user@UID.service", () => {
    const mgr = userManagerCgroup(1000);
    expect(mgr).toBe('/user.slice/user-1000.slice/user@1000.service');
    expect(systemdUnitPath(undefined, 'id1', mgr)).toMatchObject({
      slice: 'user.slice',
      unit: 'tcr-id1.scope',
      path: '/user.slice/user-1000.slice/user@1000.service/user.slice/tcr-id1.scope',
    });
    expect(systemdUnitPath('app-x.slice:p:n', 'x', mgr).path).toBe(
      '/user.slice/user-1000.slice/user@1000.service/app.slice/app-x.slice/p-n.scope',
    );
    expect(systemdUnitPath(':p:n', 'x', mgr).slice).toBe('user.slice');
  });

  it("finds the user's bus as runc does, or names what is missing", () => {
    expect(userBusAddress({ DBUS_SESSION_BUS_ADDRESS: 'unix:path=/x/bus' }, () => false)).toBe('unix:path=/x/bus');
    expect(userBusAddress({ XDG_RUNTIME_DIR: '/run/user/7' }, (p) => p === '/run/user/7/bus')).toBe('unix:path=/run/user/7/bus');
    expect(() => userBusAddress({ XDG_RUNTIME_DIR: '/run/user/7' }, () => false)).toThrow(/\/run\/user\/7\/bus does not exist/);
    expect(() => userBusAddress({}, () => false)).toThrow(/\$XDG_RUNTIME_DIR is unset.*dbus-user-session/);
  });

  it('an empty slice is system.slice; no cgroupsPath is system.slice:tcr:ID; -.slice is the root', () => {
    expect(systemdUnitPath(':p:n', 'x').path).toBe('/system.slice/p-n.scope');
    expect(systemdUnitPath(undefined, 'id1')).toMatchObject({ unit: 'tcr-id1.scope', path: '/system.slice/tcr-id1.scope' });
    expect(systemdUnitPath('-.slice:p:n', 'x').path).toBe('/p-n.scope');
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
  });

  it('refuses what runc or systemd refuses, naming the field and the reason', () => {
    expect(() => systemdUnitPath('/plain/path', 'x')).toThrow(/linux\.cgroupsPath: "\/plain\/path" is not of the form "slice:prefix:name"/);
    expect(() => systemdUnitPath('a:b', 'x')).toThrow(/slice:prefix:name/);
    expect(() => systemdUnitPath('system:p:n', 'x')).toThrow(/"system" is not a slice name: it must end in "\.slice"/);
    expect(() => systemdUnitPath('a--b.slice:p:n', 'x')).toThrow(/two in a row/);
    expect(() => systemdUnitPath('-a.slice:p:n', 'x')).toThrow(/not a slice name/);
    expect(() => systemdUnitPath('a/b.slice:p:n', 'x')).toThrow(/must not contain "\/"/);
    expect(() => systemdUnitPath('system.slice:p:', 'x')).toThrow(/empty name/);
    expect(() => systemdUnitPath('system.slice:p:n m', 'x')).toThrow(/" " is not allowed/);
    // runc would make a slice unit for the container, which systemd cannot put a process in
    expect(() => systemdUnitPath('system.slice:p:pod.slice', 'x')).toThrow(
      /names a slice \(pod\.slice\), and systemd puts no process in a slice/,
    );
  });
});

describe('--systemd-cgroup', () => {
  it.runIf(!cgroupLayout().unified)('is refused on v1/hybrid hosts, naming the flag and the reason', () => {
    expect(() => managerFor('system.slice:p:n', 'x', true)).toThrow(/--systemd-cgroup: .*needs cgroup v2.*v1 or hybrid/);
  });

  it.runIf(cgroupLayout().unified)('records the scope unit before anything is made', () => {
    const m = managerFor('system.slice:p:n', 'x', true);
    expect(m.record).toEqual({
      kind: 'systemd',
      path: '/system.slice/p-n.scope',
      dirs: ['/sys/fs/cgroup/system.slice/p-n.scope'],
      unit: 'p-n.scope',
      slice: 'system.slice',
    });
    expect(m.unifiedDir()).toBeUndefined();
  });
});

describe('linux.resources → unit properties', () => {
  it('memory, pids and cpu weight, with -1 as infinity', () => {
    const { properties } = props({
      memory: { limit: 67108864, reservation: 1048576, swap: 134217728 },
      pids: { limit: 64 },
      cpu: { shares: 1024 },
    });
    expect(byName(properties)).toEqual({
      MemoryMax: 67108864n,
      MemoryLow: 1048576n,
      MemorySwapMax: 67108864n,
      TasksMax: 64n,
      CPUWeight: 39n,
    });
    expect(byName(props({ memory: { limit: -1, swap: -1 }, pids: { limit: -1 } }).properties)).toEqual({
      MemoryMax: INFINITY,
      MemorySwapMax: INFINITY,
      TasksMax: INFINITY,
    });
    expect(properties.every((p) => p.signature === 't')).toBe(true);
  });

  it('CPU quota in whole percent, rounded up as systemd keeps it, and the file written to match', () => {
    const a = props({ cpu: { quota: 50000, period: 100000 } });
    expect(byName(a.properties)).toEqual({ CPUQuotaPeriodUSec: 100000n, CPUQuotaPerSecUSec: 500000n });
    expect(a.writes).toEqual([{ controller: 'unified', file: 'cpu.max', value: '50000 100000' }]);
    const b = props({ cpu: { quota: 12345, period: 100000 } });
    expect(byName(b.properties).CPUQuotaPerSecUSec).toBe(130000n);
    expect(b.writes[0].value).toBe('13000 100000');
    expect(byName(props({ cpu: { period: 50000 } }).properties)).toEqual({ CPUQuotaPeriodUSec: 50000n, CPUQuotaPerSecUSec: INFINITY });
    // before systemd 242 there is no CPUQuotaPeriodUSec: the file alone carries the period
    expect(byName(props({ cpu: { quota: 50000, period: 100000 } }, 241).properties)).toEqual({ CPUQuotaPerSecUSec: 500000n });
  });

  it('cpusets as bitmasks (from systemd 244), io weight, memory.high and memory.oom.group from unified', () => {
    const { properties } = props(
      { cpu: { cpus: '0-2,9', mems: '1' }, blockIO: { weight: 500 }, unified: { 'memory.high': '1000000', 'memory.oom.group': '1' } },
      253,
    );
    expect(byName(properties)).toEqual({
      AllowedCPUs: Buffer.from([0x07, 0x02]),
      AllowedMemoryNodes: Buffer.from([0x02]),
      IOWeight: 4950n,
      MemoryHigh: 1000000n,
      OOMPolicy: 'kill',
    });
    expect(byName(props({ cpu: { cpus: '0-1' } }, 243).properties)).toEqual({});
    // OOMPolicy only when the unit starts (systemd refuses it later), and from 253
    expect(byName(props({ unified: { 'memory.oom.group': '1' } }, 253, false).properties)).toEqual({});
    expect(byName(props({ unified: { 'memory.oom.group': '1' } }, 252).properties)).toEqual({});
  });

  it('cpu.idle=1 is CPUWeight=0 from systemd 252, which then takes no cpu.weight', () => {
    expect(byName(props({ cpu: { idle: 1, shares: 1024 } }).properties)).toEqual({ CPUWeight: 0n });
    expect(byName(props({ cpu: { idle: 1, shares: 1024 } }, 251).properties)).toEqual({ CPUWeight: 39n });
  });

  it('bad values name their field', () => {
    expect(() => props({ unified: { 'memory.max': '12k' } })).toThrow(/memory\.max.*not a non-negative integer or "max"/);
    expect(() => rangeToBits('3-1', 'linux.resources.cpu.cpus')).toThrow(
      /linux\.resources\.cpu\.cpus: "3-1": the range 3-1 runs backwards/,
    );
    expect(() => rangeToBits('a', 'f')).toThrow(/"a" is not a number or a range/);
  });
});

describe('devices → DevicePolicy / DeviceAllow', () => {
  it('a deny-all list with allows: strict, the allows as systemd spells them', () => {
    const p = deviceProperties(
      deviceRules([
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
      ]),
    );
    expect(p[0]).toEqual({ name: 'DeviceAllow', signature: 'a(ss)', value: [] });
    expect(p[1]).toEqual({ name: 'DevicePolicy', signature: 's', value: 'strict' });
    const entries = p[2].value as [string, string][];
    expect(entries).toContainEqual(['/dev/char/10:229', 'rw']);
    expect(entries).toContainEqual(['char-*', 'm']);
    expect(entries).toContainEqual(['block-*', 'm']);
    expect(entries).toContainEqual(['char-136', 'rwm']);
    expect(entries).toContainEqual(['/dev/char/1:3', 'rwm']);
  });

  it('allow-all is DevicePolicy=auto; allow-all with denies has no systemd form and denies all (as runc)', () => {
    expect(deviceProperties([{ allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' }])).toEqual([
      { name: 'DeviceAllow', signature: 'a(ss)', value: [] },
      { name: 'DevicePolicy', signature: 's', value: 'auto' },
    ]);
    const warnings: string[] = [];
    const p = deviceProperties(
      [
        { allow: true, type: 'a', major: -1, minor: -1, access: 'rwm' },
        { allow: false, type: 'c', major: 1, minor: 3, access: 'rwm' },
      ],
      (m) => warnings.push(m),
    );
    expect(byName(p)).toEqual({ DeviceAllow: [], DevicePolicy: 'strict' });
    expect(warnings[0]).toMatch(/no deny lists/);
  });

  it('a deny after allows takes its access away', () => {
    const p = deviceProperties([
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
      { allow: false, type: 'c', major: 1, minor: -1, access: 'w' },
    ]);
    expect(p[2].value).toEqual([['/dev/char/1:3', 'rm']]);
  });
});
