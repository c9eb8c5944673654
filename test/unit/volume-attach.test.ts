// A run's volumes against layer directories on disk (src/volumes/attach.ts,
// store.ts): made on first use and filled from the merged layers, recorded
// as the container's, and, when the copy fails, undone: the volume the run
// made is gone, an existing empty one is left empty with its owner and mode.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attachVolumes, detachVolumes, nameVolumes } from '../../src/volumes/attach.js';
import { parseVolumeFlag } from '../../src/volumes/mount-flags.js';
import { VolumeStore, readVolumeUses } from '../../src/volumes/store.js';

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-vattach-'));
afterAll(() => fs.rmSync(top, { recursive: true, force: true }));

function setUp(name: string) {
  const root = path.join(top, name);
  const store = path.join(root, 'store');
  const container = path.join(store, 'containers', 'c1');
  fs.mkdirSync(container, { recursive: true });
  const lower = path.join(root, 'lower');
  const upper = path.join(root, 'upper');
  fs.mkdirSync(path.join(lower, 'srv', 'data'), { recursive: true });
  fs.mkdirSync(path.join(upper, 'srv', 'data'), { recursive: true });
  fs.writeFileSync(path.join(lower, 'srv', 'data', 'low'), 'low\n');
  fs.writeFileSync(path.join(upper, 'srv', 'data', 'up'), 'up\n');
  // an opaque-less upper directory merges with the lower one
  return { vs: new VolumeStore(store), container, layers: [upper, lower] };
}

const requests = (flags: string[]) => nameVolumes(flags.map((f) => parseVolumeFlag(f, '/')));

describe('attachVolumes', () => {
  it('makes a volume on first use, fills it from the merged layers, and records it as the container’s', async () => {
    const { vs, container, layers } = setUp('fill');
    const done = await attachVolumes(vs, container, requests(['data1:/srv/data', '/anon']), layers);
    expect(done.created).toHaveLength(2);
    expect(fs.readdirSync(vs.dataDir('data1')).sort()).toEqual(['low', 'up']);
    expect(readVolumeUses(container).map((u) => u.anonymous)).toEqual([false, true]);
    expect(vs.users('data1')).toEqual(['c1']);
    expect(() => vs.remove('data1')).toThrow('remove data1: volume is in use by container c1 (tcr rm c1 first)');
    // undone (a run that failed before its launch): the record and the volumes it made go
    detachVolumes(vs, done);
    expect(vs.list()).toEqual([]);
    expect(readVolumeUses(container)).toEqual([]);
  });

  it('a copy that fails removes the volume the run made and leaves an existing empty one empty, with its mode', async () => {
    const { vs, container, layers } = setUp('fail');
    // a socket cannot be copied: the copy-up fails half-way
    const sock = path.join(layers[0], 'srv', 'data', 'sock');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    try {
      vs.create('existing');
      fs.chmodSync(vs.dataDir('existing'), 0o711);
      await expect(attachVolumes(vs, container, requests(['existing:/srv/data']), layers)).rejects.toThrow(/sock/);
      expect(fs.readdirSync(vs.dataDir('existing'))).toEqual([]);
      expect(fs.statSync(vs.dataDir('existing')).mode & 0o7777).toBe(0o711);
      await expect(attachVolumes(vs, container, requests(['made:/srv/data']), layers)).rejects.toThrow(/sock/);
      expect(vs.list().map((v) => v.name)).toEqual(['existing']);
      expect(readVolumeUses(container)).toEqual([]);
      expect(fs.readdirSync(vs.dir('existing'))).toEqual(['_data', 'volume.json']);
    } finally {
      server.close();
    }
  });

  it('a volume that holds anything is not filled again; nocopy leaves it empty', async () => {
    const { vs, container, layers } = setUp('nocopy');
    vs.create('full');
    fs.writeFileSync(path.join(vs.dataDir('full'), 'mine'), 'mine\n');
    await attachVolumes(vs, container, requests(['full:/srv/data', 'bare:/srv/data/x:nocopy']), layers);
    expect(fs.readdirSync(vs.dataDir('full'))).toEqual(['mine']);
    expect(fs.readdirSync(vs.dataDir('bare'))).toEqual([]);
  });
});
