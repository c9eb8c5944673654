// compose ps's PORTS column: the ports a project's containers publish now,
// the same that tcr ps, port and inspect show (publishedPorts): a bridge's
// from its network record, slirp4netns' only while the container runs.
// Records on disk in a temp state root; "running" is this test's own
// process, "stopped" a pid of 0 (no root, no containers).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectContainers } from '../../src/compose/containers.js';
import { procStat } from '../../src/container/proc.js';
import { StateStore, type ContainerRecord } from '../../src/container/state-store.js';
import type { PortMapping } from '../../src/network/record.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-compose-ps-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const port: PortMapping = { hostIP: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp' };

function record(id: string, o: { running: boolean; network: string; bridgePorts?: PortMapping[] }): void {
  const note = {
    entrypoint: [],
    cmd: ['httpd'],
    network: o.network,
    user: '',
    labels: { 'com.docker.compose.project': 'app', 'com.docker.compose.service': id, 'com.docker.compose.container-number': '1' },
    ports: [port],
  };
  const rec = {
    ociVersion: '1.0.2',
    id,
    bundle: root,
    rootfs: path.join(root, id, 'rootfs'),
    phase: 'created',
    pid: o.running ? process.pid : 0,
    startTime: o.running ? procStat(process.pid)!.startTime : '0',
    created: new Date(0).toISOString(),
    owner: 'root',
    config: { ociVersion: '1.0.2', annotations: { 'dev.tcr.run': JSON.stringify(note) } },
    ...(o.bridgePorts && { network: { network: 'bridge', portMappings: o.bridgePorts } }),
  } as unknown as ContainerRecord;
  const store = new StateStore(root);
  fs.mkdirSync(store.dir(id), { recursive: true });
  store.write(rec);
}

describe('compose ps ports', () => {
  record('slirp-up', { running: true, network: 'slirp4netns' });
  record('slirp-down', { running: false, network: 'slirp4netns' });
  record('bridge', { running: false, network: 'bridge', bridgePorts: [port] });
  const ports = Object.fromEntries(projectContainers(root, 'app').map((c) => [c.service, c.hostPorts]));

  it("shows a running slirp4netns container's ports, as ps and port do", () => {
    expect(ports['slirp-up']).toEqual(['127.0.0.1:8080->80/tcp']);
  });

  it('shows none for a stopped one: its slirp4netns ended with it', () => {
    expect(ports['slirp-down']).toEqual([]);
  });

  it("shows a bridge container's ports from its network record", () => {
    expect(ports.bridge).toEqual(['127.0.0.1:8080->80/tcp']);
  });
});
