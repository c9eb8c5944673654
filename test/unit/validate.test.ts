// validateSpec: a bad config.json fails before anything is made, with the
// JSON path of the field at fault.
import { describe, expect, it } from 'vitest';
import { SpecError } from '../../src/errors.js';
import { defaultSpec } from '../../src/spec/defaults.js';
import type { Spec } from '../../src/spec/types.js';
import { validateSpec } from '../../src/spec/validate.js';

function spec(edit: (s: Spec) => void): Spec {
  const s = defaultSpec();
  edit(s);
  return s;
}

/** The field a SpecError names when validating the edited default spec. */
function fieldOf(edit: (s: any) => void, forLaunch = true): string {
  try {
    validateSpec(spec(edit), forLaunch);
  } catch (e) {
    expect(e).toBeInstanceOf(SpecError);
    expect((e as Error).message).toContain(`config.json: ${(e as SpecError).field}: `);
    return (e as SpecError).field;
  }
  throw new Error('validateSpec accepted the config');
}

describe('validateSpec accepts', () => {
  it('the default spec', () => expect(() => validateSpec(defaultSpec())).not.toThrow());
  it('the rootless default spec', () => expect(() => validateSpec(defaultSpec({ rootless: true }))).not.toThrow());
  it('a spec without process when not launching (e.g. state, delete)', () => {
    expect(() =>
      validateSpec(
        spec((s) => delete s.process),
        false,
      ),
    ).not.toThrow();
  });
  it('joined namespaces, a user namespace with mappings, hooks and devices', () => {
    expect(() =>
      validateSpec(
        spec((s) => {
          s.linux!.namespaces!.push({ type: 'user' }, { type: 'cgroup', path: '/proc/1/ns/cgroup' });
          s.linux!.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
          s.hooks = { prestart: [{ path: '/bin/true', args: ['true'], timeout: 3 }] };
          s.linux!.devices = [
            { type: 'c', path: '/dev/fuse', major: 10, minor: 229 },
            { type: 'p', path: '/dev/fifo' },
          ];
          s.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.msgmax': '8192' };
          s.process!.rlimits!.push({ type: 'RLIMIT_CORE', soft: 0, hard: Number('18446744073709551615') });
        }),
      ),
    ).not.toThrow();
  });
});

describe('validateSpec names the field', () => {
  const cases: [string, string, (s: any) => void][] = [
    ['non-object config', '(root)', () => {}],
    ['missing ociVersion', 'ociVersion', (s) => delete s.ociVersion],
    ['missing root', 'root.path', (s) => delete s.root],
    ['empty root.path', 'root.path', (s) => (s.root.path = '')],
    ['non-boolean root.readonly', 'root.readonly', (s) => (s.root.readonly = 'yes')],
    ['missing process', 'process', (s) => delete s.process],
    ['empty process.args', 'process.args', (s) => (s.process.args = [])],
    ['missing process.args', 'process.args', (s) => delete s.process.args],
    ['non-string process.args', 'process.args', (s) => (s.process.args = ['sh', 1])],
    ['env without =', 'process.env[1]', (s) => (s.process.env = ['A=1', 'B'])],
    ['relative cwd', 'process.cwd', (s) => (s.process.cwd = 'tmp')],
    ['missing user', 'process.user', (s) => delete s.process.user],
    ['negative uid', 'process.user.uid', (s) => (s.process.user.uid = -1)],
    ['fractional gid', 'process.user.gid', (s) => (s.process.user.gid = 1.5)],
    ['bad additional gid', 'process.user.additionalGids[1]', (s) => (s.process.user.additionalGids = [1, 'x'])],
    ['umask too big', 'process.user.umask', (s) => (s.process.user.umask = 0o1000)],
    ['unknown capability', 'process.capabilities.effective[1]', (s) => (s.process.capabilities.effective = ['CAP_KILL', 'CAP_FLY'])],
    ['unknown rlimit', 'process.rlimits[0].type', (s) => (s.process.rlimits = [{ type: 'RLIMIT_FOO', soft: 1, hard: 1 }])],
    ['duplicate rlimit', 'process.rlimits[1].type', (s) => s.process.rlimits.push({ type: 'RLIMIT_NOFILE', soft: 1, hard: 1 })],
    ['soft above hard', 'process.rlimits[0]', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 2048, hard: 1024 }])],
    ['negative rlimit', 'process.rlimits[0]', (s) => (s.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: -1, hard: 1024 }])],
    ['oomScoreAdj out of range', 'process.oomScoreAdj', (s) => (s.process.oomScoreAdj = 1001)],
    ['relative mount destination', 'mounts[1].destination', (s) => (s.mounts[1].destination = 'dev')],
    ['missing mount destination', 'mounts[0].destination', (s) => delete s.mounts[0].destination],
    ['non-string mount options', 'mounts[2].options', (s) => (s.mounts[2].options = ['ro', 3])],
    ['non-string mount type', 'mounts[0].type', (s) => (s.mounts[0].type = 5)],
    ['bind without source', 'mounts[7].source', (s) => s.mounts.push({ destination: '/data', options: ['rbind'] })],
    ['relative hook path', 'hooks.prestart[0].path', (s) => (s.hooks = { prestart: [{ path: 'bin/hook' }] })],
    ['hooks not an array', 'hooks.poststop', (s) => (s.hooks = { poststop: { path: '/bin/true' } })],
    [
      'bad hook timeout',
      'hooks.createContainer[1].timeout',
      (s) => (s.hooks = { createContainer: [{ path: '/a' }, { path: '/b', timeout: 0 }] }),
    ],
    ['bad hook args', 'hooks.startContainer[0].args', (s) => (s.hooks = { startContainer: [{ path: '/a', args: 'a' }] })],
    ['unknown namespace type', 'linux.namespaces[0].type', (s) => (s.linux.namespaces[0].type = 'pids')],
    ['duplicate namespace', 'linux.namespaces[5].type', (s) => s.linux.namespaces.push({ type: 'pid' })],
    ['relative namespace path', 'linux.namespaces[1].path', (s) => (s.linux.namespaces[1].path = 'proc/1/ns/net')],
    ['user namespace without mappings', 'linux.uidMappings', (s) => s.linux.namespaces.push({ type: 'user' })],
    ['mappings without user namespace', 'linux.uidMappings', (s) => (s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }])],
    [
      'mapping of size 0',
      'linux.gidMappings[0].size',
      (s) => {
        s.linux.namespaces.push({ type: 'user' });
        s.linux.uidMappings = [{ containerID: 0, hostID: 0, size: 1 }];
        s.linux.gidMappings = [{ containerID: 0, hostID: 0, size: 0 }];
      },
    ],
    ['mapping without hostID', 'linux.uidMappings[0].hostID', (s) => (s.linux.uidMappings = [{ containerID: 0, size: 1 }])],
    ['hostname without uts namespace', 'hostname', (s) => (s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'uts'))],
    [
      'domainname without uts namespace',
      'domainname',
      (s) => {
        delete s.hostname;
        s.domainname = 'example.org';
        s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'uts');
      },
    ],
    ['time offsets without time namespace', 'linux.timeOffsets', (s) => (s.linux.timeOffsets = { monotonic: { secs: 1 } })],
    [
      "a read-only root without mount namespace (it would be the host's)",
      'root.readonly',
      (s) => {
        s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'mount');
        s.root.readonly = true;
      },
    ],
    ['bad sysctl name', 'linux.sysctl.kernel..x', (s) => (s.linux.sysctl = { 'kernel..x': '1' })],
    [
      'net sysctl without network namespace',
      'linux.sysctl.net.ipv4.ip_forward',
      (s) => {
        s.linux.namespaces = s.linux.namespaces.filter((n: any) => n.type !== 'network');
        s.linux.sysctl = { 'net.ipv4.ip_forward': '1' };
      },
    ],
    ['unknown rootfsPropagation', 'linux.rootfsPropagation', (s) => (s.linux.rootfsPropagation = 'rwhatever')],
    ['relative device path', 'linux.devices[0].path', (s) => (s.linux.devices = [{ type: 'c', path: 'dev/x', major: 1, minor: 1 }])],
    ['unknown device type', 'linux.devices[0].type', (s) => (s.linux.devices = [{ type: 'x', path: '/dev/x', major: 1, minor: 1 }])],
    ['device without major', 'linux.devices[0]', (s) => (s.linux.devices = [{ type: 'c', path: '/dev/x', minor: 1 }])],
    ['relative masked path', 'linux.maskedPaths', (s) => s.linux.maskedPaths.push('proc/kcore')],
    ['non-string readonly paths', 'linux.readonlyPaths', (s) => (s.linux.readonlyPaths = [1])],
  ];
  for (const [what, field, edit] of cases) {
    it(`${what} → ${field}`, () => {
      if (field === '(root)') {
        expect(() => validateSpec([])).toThrow(SpecError);
        expect(() => validateSpec(null)).toThrow(/\(root\)/);
        return;
      }
      expect(fieldOf(edit)).toBe(field);
    });
  }
});
