// docker inspect's shape from a state record, its --format templates and
// docker port's lines: what needs no container.
import { describe, expect, it } from 'vitest';
import { applyTemplate, goPrint } from '../../src/cli/go-template.js';
import { gib, keyValueText, versionInfo } from '../../src/cli/info-commands.js';
import type { ContainerRecord } from '../../src/container/state-store.js';
import type { NetworkRecord } from '../../src/network/record.js';
import { inspectContainer, portLines, portMap } from '../../src/run/inspect.js';
import { defaultSpec } from '../../src/spec/defaults.js';

const ports = [
  { hostPort: 8080, containerPort: 80, protocol: 'tcp' as const, hostIP: '127.0.0.1' },
  { hostPort: 5353, containerPort: 53, protocol: 'udp' as const },
];

function record(): ContainerRecord {
  const spec = defaultSpec();
  spec.process!.args = ['httpd', '-f'];
  spec.hostname = 'web';
  spec.mounts!.push(
    { destination: '/etc/hosts', type: 'bind', source: '/s/containers/web/hosts', options: ['rbind'] },
    { destination: '/data', type: 'bind', source: '/s/volumes/db/_data', options: ['rbind', 'rprivate'] },
    { destination: '/src', type: 'bind', source: '/home/u/src', options: ['rbind', 'ro'] },
  );
  spec.linux!.resources = { memory: { limit: 1 << 28 }, cpu: { quota: 50000, period: 100000 }, pids: { limit: 64 } };
  spec.annotations = {
    'dev.tcr.image': 'busybox',
    'dev.tcr.run': JSON.stringify({ entrypoint: [], cmd: ['httpd', '-f'], network: 'appnet', labels: { a: 'b' }, user: 'nobody' }),
  };
  const network = {
    network: 'appnet',
    portMappings: ports,
    result: { ips: [{ address: '10.89.3.5/24', gateway: '10.89.3.1' }] },
    hosts: { file: '', base: [], names: ['web', 'web', 'www'] },
    shareNames: true,
  } as unknown as NetworkRecord;
  return {
    ...{ ociVersion: '1.0.2', id: 'web', bundle: '/b', rootfs: '/b/rootfs', phase: 'created', pid: 42, startTime: '1' },
    ...{ created: '2026-01-01T00:00:00.000Z', owner: '', annotations: spec.annotations, config: spec, network },
  };
}

describe('docker inspect shape', () => {
  const running = inspectContainer({ rec: record(), status: 'running', volumesRoot: '/s/volumes' });

  it('has docker field names and values for a running container', () => {
    expect(running).toMatchObject({
      Id: 'web',
      Name: '/web',
      Path: 'httpd',
      Args: ['-f'],
      Image: 'busybox',
      State: { Status: 'running', Running: true, Paused: false, Pid: 42, ExitCode: 0, FinishedAt: '0001-01-01T00:00:00Z' },
      Config: { Hostname: 'web', Cmd: ['httpd', '-f'], Entrypoint: null, User: 'nobody', Labels: { a: 'b' } },
      HostConfig: { NetworkMode: 'appnet', Memory: 1 << 28, NanoCpus: 5e8, PidsLimit: 64, Binds: ['db:/data', '/home/u/src:/src:ro'] },
      NetworkSettings: {
        IPAddress: '10.89.3.5',
        Ports: { '80/tcp': [{ HostIp: '127.0.0.1', HostPort: '8080' }], '53/udp': [{ HostIp: '0.0.0.0', HostPort: '5353' }] },
        Networks: { appnet: { IPAddress: '10.89.3.5', Gateway: '10.89.3.1', Aliases: ['web', 'www'] } },
      },
    });
  });

  it('lists the user mounts only: a volume by name, a read-only bind, not the etc files', () => {
    expect(running.Mounts).toEqual([
      {
        Type: 'volume',
        Name: 'db',
        Source: '/s/volumes/db/_data',
        Destination: '/data',
        Driver: 'local',
        Mode: '',
        RW: true,
        Propagation: 'rprivate',
      },
      { Type: 'bind', Source: '/home/u/src', Destination: '/src', Mode: 'ro', RW: false, Propagation: '' },
    ]);
  });

  it("reads a stopped container's recorded exit status, and -1 with an Error when none was seen", () => {
    const exited = inspectContainer({ rec: record(), status: 'stopped', exit: { code: 7, finishedAt: 'T' }, volumesRoot: '/s/volumes' });
    expect(exited.State).toMatchObject({ Status: 'exited', Running: false, Pid: 0, ExitCode: 7, FinishedAt: 'T', Error: '' });
    const unseen = inspectContainer({ rec: record(), status: 'stopped', volumesRoot: '/s/volumes' });
    expect(unseen.State).toMatchObject({ ExitCode: -1, Error: expect.stringContaining('not recorded') });
    const created = inspectContainer({ rec: record(), status: 'created', volumesRoot: '/s/volumes' });
    expect(created.State).toMatchObject({ Status: 'created', Running: false, StartedAt: '0001-01-01T00:00:00Z' });
  });
});

describe('--format templates', () => {
  const v = { State: { Status: 'running', Pid: 7, Running: true }, Args: ['-c', 'x'], Labels: { b: '2', a: '1' }, Gone: null };

  it('prints dotted fields as Go prints them', () => {
    expect(applyTemplate('{{.State.Status}}', v)).toBe('running');
    expect(applyTemplate('pid={{ .State.Pid }} up={{.State.Running}}', v)).toBe('pid=7 up=true');
    expect(applyTemplate('{{.Args}} {{.Labels}} {{.Gone}}', v)).toBe('[-c x] map[a:1 b:2] <nil>');
    expect(goPrint({})).toBe('map[]');
  });

  it('prints JSON with json', () => {
    expect(applyTemplate('{{json .State}}', v)).toBe('{"Status":"running","Pid":7,"Running":true}');
    expect(applyTemplate('{{json .}}', { a: 1 })).toBe('{"a":1}');
  });

  it('names a field that is not there, and refuses what it does not understand', () => {
    expect(() => applyTemplate('{{.State.Nope}}', v)).toThrow(/<\.State\.Nope>: can't evaluate field Nope/);
    expect(() => applyTemplate('{{range .Args}}', v)).toThrow(/only \{\{\.Field\.Path\}\}/);
  });
});

describe('docker port lines', () => {
  it('prints every published port, or the host addresses of one', () => {
    expect(portLines(ports)).toEqual(['80/tcp -> 127.0.0.1:8080', '53/udp -> 0.0.0.0:5353']);
    expect(portLines(ports, '80')).toEqual(['127.0.0.1:8080']);
    expect(portLines(ports, '53/udp')).toEqual(['0.0.0.0:5353']);
    expect(portLines(ports, '53')).toEqual([]); // 53/tcp is not published
    expect(portMap([])).toEqual({});
  });
});

describe('version and info text', () => {
  it('aligns the values of a section under their title', () => {
    expect(keyValueText({ A: { Version: '1', 'Long key': 2 }, B: { X: 'y' } })).toBe('A:\n Version:  1\n Long key: 2\nB:\n X: y\n');
    expect(gib(4 * 2 ** 30 + 2 ** 29)).toBe('4.50GiB');
    expect(versionInfo().Runtime.OciVersion).toMatch(/^1\.\d+\.\d+/);
  });
});
