// The rootfs of an image container where overlayfs refuses the mount: the
// caller's copy of the layers is used instead (root, real kernel).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mountOverlay, undoHostMounts } from '../../src/container/host-mounts.js';
import { native } from '../../src/sys/native.js';
import { isRoot, lacks } from '../helpers.js';

describe.skipIf(lacks(isRoot))('mountOverlay', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-ovl-'));
  const mounted: string[] = [];
  afterAll(() => {
    undoHostMounts({ unmount: mounted.reverse(), remove: [] });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('where overlayfs refuses (an upper directory on an overlay), copies the layers with the callback, bottom first', async () => {
    const d = (...p: string[]) => path.join(dir, ...p);
    for (const x of ['l1', 'l2', 'base/lower', 'base/upper', 'base/work', 'base/merged']) fs.mkdirSync(d(x), { recursive: true });
    // an overlay to hold the next overlay's upper: overlayfs refuses that upper
    native().mount(
      'overlay',
      d('base/merged'),
      'overlay',
      0,
      `lowerdir=${d('base/lower')},upperdir=${d('base/upper')},workdir=${d('base/work')}`,
    );
    mounted.push(d('base/merged'));
    const calls: { bottomFirst: string[]; target: string }[] = [];
    const how = await mountOverlay({
      lower: [d('l2'), d('l1')], // top first
      upper: d('base/merged/upper'),
      work: d('base/merged/work'),
      target: d('root'),
      copyLayers: async (bottomFirst, target) => void calls.push({ bottomFirst, target }),
    });
    expect(how).toBe('copy');
    expect(calls).toEqual([{ bottomFirst: [d('l1'), d('l2')], target: d('root') }]);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${d('root')} `);
  });
});
