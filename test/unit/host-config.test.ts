// The spec `tcr run IMAGE` builds from docker's HostConfig flags
// (src/run/host-config.ts and the modules it calls), and the checks that
// refuse a bad value before anything is made: no root needed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { imageRunOptions, type ImageRunFlags } from '../../src/cli/docker-commands.js';
import { withBooleanValues } from '../../src/cli/bool-values.js';
import { buildImageSpec } from '../../src/run/image-spec.js';
import { ownHardLimit, sysctls, ulimits } from '../../src/run/host-flags.js';
import { mergeLabels } from '../../src/run/note-flags.js';
import { namespaceMode } from '../../src/run/namespace-flags.js';
import { INIT_SOURCE } from '../../src/run/host-config.js';
import { inspectContainer, runNote } from '../../src/run/inspect.js';
import type { ContainerRecord } from '../../src/container/state-store.js';

const BASE = {
  ...{ env: [], envFile: [], volume: [], mount: [], tmpfs: [], capAdd: [], capDrop: [], securityOpt: [] },
  ...{ network: 'none', publish: [], dns: [], dnsSearch: [], dnsOption: [], addHost: [], networkAlias: [], pull: 'never' },
} as ImageRunFlags;

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-host-config-'));
fs.mkdirSync(path.join(root, 'etc'));
fs.writeFileSync(path.join(root, 'etc', 'passwd'), 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/:/bin/sh\n');
fs.writeFileSync(path.join(root, 'etc', 'group'), 'root:x:0:\nwheel:x:10:root\naudio:x:29:app\n');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const build = (f: Partial<ImageRunFlags>, config: Record<string, unknown> = {}, joins?: { ipc?: string; pid?: string }) =>
  buildImageSpec(imageRunOptions('img', ['true'], { ...BASE, ...f }), {
    id: 'c1',
    rootfs: '/r',
    config: { config } as never,
    lookupRoot: [root],
    userMounts: [],
    joins,
  });

describe('the spec of the HostConfig flags', () => {
  it("none of them: docker's defaults (private namespaces, 64m /dev/shm, masked paths, seccomp, no rlimits)", () => {
    const s = build({});
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network']);
    expect(s.mounts!.find((m) => m.destination === '/dev/shm')!.options).toContain('size=65536k');
    expect(s.linux!.maskedPaths!.length).toBeGreaterThan(0);
    expect(s.linux!.seccomp).toBeDefined();
    expect(s.process!.rlimits).toEqual([]);
    expect(s.process!.user).toEqual({ uid: 0, gid: 0, additionalGids: [10] }); // root's memberships, as docker adds them
  });

  it('--privileged: every capability tcr holds, no seccomp, no masked or read-only paths, /sys rw, all devices', () => {
    const s = build({ privileged: true });
    expect(s.process!.capabilities!.bounding).toContain('CAP_SYS_ADMIN');
    expect(s.linux!.seccomp).toBeUndefined();
    expect(s.linux!.maskedPaths).toEqual([]);
    expect(s.linux!.readonlyPaths).toEqual([]);
    expect(s.mounts!.find((m) => m.destination === '/sys')!.options).not.toContain('ro');
    expect(s.linux!.resources!.devices).toEqual([{ allow: true, access: 'rwm' }]);
    if (fs.existsSync('/dev/null')) expect(s.linux!.devices!.map((d) => d.path)).toContain('/dev/null');
  });

  it('--device: the node and its rule', () => {
    const s = build({ device: ['/dev/null:/dev/nothing:rw'] });
    expect(s.linux!.devices).toEqual([expect.objectContaining({ path: '/dev/nothing', type: 'c', major: 1, minor: 3 })]);
    expect(s.linux!.resources!.devices!.at(-1)).toEqual({ allow: true, type: 'c', major: 1, minor: 3, access: 'rw' });
    expect(() => build({ device: ['relative'] })).toThrow('--device "relative": both paths must be absolute');
  });

  it('cpu, memory, oom, shm and sysctl settings', () => {
    const s = build({
      ...{ cpuShares: '512', cpuQuota: '50000', cpuPeriod: '100000', cpusetCpus: '0', memory: '64m', memoryReservation: '32m' },
      ...{ oomKillDisable: true, oomScoreAdj: '500', shmSize: '1g', sysctl: ['net.ipv4.ip_forward=1', 'kernel/shmmax=99'] },
    });
    expect(s.linux!.resources!.cpu).toEqual({ shares: 512, quota: 50000, period: 100000, cpus: '0' });
    expect(s.linux!.resources!.memory).toMatchObject({ limit: 64 * 2 ** 20, reservation: 32 * 2 ** 20, disableOOMKiller: true });
    expect(s.process!.oomScoreAdj).toBe(500);
    expect(s.mounts!.find((m) => m.destination === '/dev/shm')!.options).toContain(`size=${2 ** 30}`);
    expect(s.linux!.sysctl).toEqual({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '99' });
    // --cpus still gives quota and period alone
    expect(build({ cpus: '1.5' }).linux!.resources!.cpu).toEqual({ quota: 150000, period: 100000 });
  });

  it('namespace modes: host drops the namespace, container:NAME joins the path looked up', () => {
    const s = build({ ipc: 'host', pid: 'host', uts: 'host' });
    expect(s.linux!.namespaces!.map((n) => n.type)).toEqual(['mount', 'cgroup', 'network']);
    expect(s.hostname).toBeUndefined();
    expect(s.process!.env).toContain(`HOSTNAME=${os.hostname()}`);
    expect(s.mounts!.find((m) => m.destination === '/dev/shm')).toMatchObject({ type: 'bind', source: '/dev/shm' });
    const j = build({ ipc: 'container:other', pid: 'container:other' }, {}, { ipc: '/proc/9/ns/ipc', pid: '/proc/9/ns/pid' });
    expect(j.linux!.namespaces!.filter((n) => n.path)).toEqual([
      { type: 'pid', path: '/proc/9/ns/pid' },
      { type: 'ipc', path: '/proc/9/ns/ipc' },
    ]);
    expect(namespaceMode('ipc', 'shareable')).toEqual({ kind: 'private' });
    expect(build({ ipc: 'none' }).mounts!.map((m) => m.destination)).not.toContain('/dev/shm');
    expect(() => namespaceMode('uts', 'container:x')).toThrow('--uts: "container:x" is not a mode tcr takes here (host)');
  });

  it('--group-add and -u NAME:GROUP', () => {
    expect(build({ user: 'app', groupAdd: ['wheel', '77'] }).process!.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [29, 10, 77] });
    expect(build({ user: 'app:wheel' }).process!.user).toEqual({ uid: 1000, gid: 10 });
  });

  it.skipIf(!fs.existsSync(INIT_SOURCE))('--init: docker-init bound read-only, first in argv', () => {
    const s = build({ init: true });
    expect(s.process!.args).toEqual(['/sbin/docker-init', '--', 'true']);
    expect(s.mounts!.at(-1)).toEqual({ destination: '/sbin/docker-init', type: 'bind', source: INIT_SOURCE, options: ['bind', 'ro'] });
  });

  it("the run note: labels over the image's, the stop signal (the image's by default) and timeout", () => {
    const note = (f: Partial<ImageRunFlags>, config = {}) => runNote({ config: build(f, config) } as unknown as ContainerRecord)!;
    expect(note({ label: ['a=flag', 'bare'] }, { Labels: { a: 'image', b: 'image' } }).labels).toEqual({ a: 'flag', b: 'image', bare: '' });
    expect(note({}, { StopSignal: 'SIGQUIT' })).toMatchObject({ stopSignal: 'SIGQUIT' });
    expect(note({ stopSignal: '2', stopTimeout: '-1' }, { StopSignal: 'SIGQUIT' })).toMatchObject({ stopSignal: '2', stopTimeout: -1 });
    expect(() => build({ stopSignal: 'SIGNOPE' })).toThrow('--stop-signal: "SIGNOPE" is not a signal');
    expect(() => build({ stopTimeout: '1.5' })).toThrow('--stop-timeout: "1.5" is not a whole number of seconds');
    expect(() => mergeLabels({}, ['=x'], [])).toThrow('--label: "=x" has no label name');
  });
});

describe("inspect's HostConfig", () => {
  const inspect = (f: Partial<ImageRunFlags>) => {
    const config = build(f);
    const rec = { id: 'c1', pid: 0, created: '', annotations: config.annotations, config } as unknown as ContainerRecord;
    return inspectContainer({ rec, status: 'stopped', volumesRoot: '/v' }).HostConfig as Record<string, unknown>;
  };

  it("shows docker's zero values, and what the flags set", () => {
    expect(inspect({})).toMatchObject({
      Privileged: false,
      IpcMode: 'private',
      PidMode: '',
      Init: null,
      CpuShares: 0,
      ShmSize: 64 * 2 ** 20,
      Ulimits: null,
    });
    const h = inspect({
      ...{ privileged: true, ipc: 'shareable', pid: 'host', uts: 'host', groupAdd: ['10'], cpuShares: '100' },
      ...{ shmSize: '1m', ulimit: ['nofile=10:20'] },
    });
    expect(h).toMatchObject({
      Privileged: true,
      IpcMode: 'shareable',
      PidMode: 'host',
      UTSMode: 'host',
      GroupAdd: ['10'],
      CpuShares: 100,
      ShmSize: 2 ** 20,
    });
    expect(h.Ulimits).toEqual([{ Name: 'nofile', Soft: 10, Hard: 20 }]);
  });

  it.skipIf(!fs.existsSync(INIT_SOURCE))("--init's docker-init is not one of the user's binds", () => {
    expect(inspect({ init: true })).toMatchObject({ Init: true, Binds: [] });
  });
});

describe('--ulimit and --sysctl checks', () => {
  it("--ulimit: NAME=SOFT[:HARD], -1 unlimited; a hard limit above tcr's own refused without CAP_SYS_RESOURCE", () => {
    const unlimitedOwn = () => Infinity;
    expect(ulimits(['nofile=10:20', 'core=-1', 'nproc=5', 'nofile=11:21'], unlimitedOwn)).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 11, hard: 21 },
      { type: 'RLIMIT_CORE', soft: 2 ** 64 - 1, hard: 2 ** 64 - 1 },
      { type: 'RLIMIT_NPROC', soft: 5, hard: 5 },
    ]);
    const bounding = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
    const hasSysResource = !!(bounding & (1n << 24n));
    const lowOwn = () => 100;
    if (hasSysResource) expect(ulimits(['nofile=10:200'], lowOwn)).toHaveLength(1);
    else
      expect(() => ulimits(['nofile=10:200'], lowOwn)).toThrow(
        `--ulimit "nofile=10:200": the hard limit 200 is above tcr's own (100), and raising it needs CAP_SYS_RESOURCE, which tcr does not have`,
      );
    expect(ownHardLimit('RLIMIT_NOFILE', () => 'Max open files            1024                 4096                 files\n')).toBe(4096);
    expect(() => ulimits(['nofile=20:10'])).toThrow('the soft limit 20 is above the hard limit 10');
    expect(() => ulimits(['nofile'])).toThrow('--ulimit "nofile": give NAME=SOFT[:HARD]');
  });

  it("--sysctl: the IPC and network ones, not where the namespace is the host's", () => {
    expect(sysctls(['kernel.sem=1 2 3 4', 'fs.mqueue.queues_max=9'], { hostIpc: false, hostNetwork: true })).toEqual({
      'kernel.sem': '1 2 3 4',
      'fs.mqueue.queues_max': '9',
    });
    expect(() => sysctls(['kernel.hostname=x'], { hostIpc: false, hostNetwork: false })).toThrow(
      /kernel.hostname is not a namespaced sysctl/,
    );
    expect(() => sysctls(['kernel.shmall=1'], { hostIpc: true, hostNetwork: false })).toThrow(
      "kernel.shmall is the host's with --ipc host",
    );
    expect(() => sysctls(['noequals'], { hostIpc: false, hostNetwork: false })).toThrow('--sysctl "noequals": give NAME=VALUE');
  });
});

describe("docker's NAME=BOOL forms", () => {
  it('rewrites the boolean flags of run before the image, and nothing after it', () => {
    expect(withBooleanValues(['--root', '/x', 'run', '--rm=false', '-t=true', '--name', 'n', 'img', '--rm=true'], 2)).toEqual([
      ...['--root', '/x', 'run', '-t', '--name', 'n', 'img', '--rm=true'],
    ]);
    expect(withBooleanValues(['run', '--privileged=1', '-e', '--rm=false', 'img'], 0)).toEqual([
      'run',
      '--privileged',
      '-e',
      '--rm=false',
      'img',
    ]);
    expect(() => withBooleanValues(['run', '--init=yes', 'img'], 0)).toThrow('--init: "yes" is not a boolean (true or false)');
  });
});
