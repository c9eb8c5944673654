// The rules of an ordinary user's image commands that need no account: which
// commands re-run in a user namespace, what a user's network flags become,
// and the overlay the init mounts itself instead of binding the rootfs.
import { describe, expect, it } from 'vitest';
import { unpacksAsUser } from '../../src/cli/rootless-unpack.js';
import { buildLaunchPlan } from '../../src/linux/launch-plan.js';
import { MS } from '../../src/linux/mounts.js';
import { PlanOp, type StepOf } from '../../src/linux/plan-steps.js';
import type { ImageRunOptions } from '../../src/run/options.js';
import { defaultRunOptions } from '../../src/run/unpack-image.js';
import { rootlessNetwork } from '../../src/run/rootless-image.js';
import { defaultSpec } from '../../src/spec/defaults.js';

describe('unpacksAsUser', () => {
  it('re-runs pull, load and import of a user, not root, help, or other commands', () => {
    expect(unpacksAsUser(['pull', 'busybox'], 'pull', 1000)).toBe(true);
    expect(unpacksAsUser(['--store', '/s', 'load', '-i', 'x.tar'], 'load', 1000)).toBe(true);
    expect(unpacksAsUser(['import', 'dir'], 'import', 1000)).toBe(true);
    expect(unpacksAsUser(['pull', 'busybox'], 'pull', 0)).toBe(false);
    expect(unpacksAsUser(['pull', '--help'], 'pull', 1000)).toBe(false);
    expect(unpacksAsUser(['images'], 'images', 1000)).toBe(false);
    expect(unpacksAsUser(['run', 'busybox'], 'run', 1000)).toBe(false);
  });
});

describe('rootlessNetwork', () => {
  const opts = (o: Partial<ImageRunOptions>): ImageRunOptions => ({ ...defaultRunOptions('i', 'h'), ...o });

  it('keeps none, host, slirp4netns and container:NAME; the default bridge becomes slirp4netns, its ports kept', () => {
    for (const network of ['none', 'host', 'slirp4netns', 'container:web'])
      expect(rootlessNetwork(opts({ network })).network).toBe(network);
    expect(rootlessNetwork(opts({ network: 'bridge' })).network).toBe('slirp4netns');
    const p = rootlessNetwork(opts({ network: 'bridge', publish: ['127.0.0.1:8080:80'], publishAll: true }));
    expect([p.network, p.publish, p.publishAll]).toEqual(['slirp4netns', ['127.0.0.1:8080:80'], true]);
  });

  it('refuses named networks with 125, naming what works', () => {
    for (const o of [{ network: 'mynet' }, { network: 'mynet', publish: ['8080:80'] }]) {
      let err: { exitCode?: number; message?: string } = {};
      try {
        rootlessNetwork(opts(o));
      } catch (e) {
        err = e as typeof err;
      }
      expect(err.exitCode, JSON.stringify(o)).toBe(125);
      expect(err.message).toMatch(/--network mynet: as uid \d+, tcr has no bridge or user network.*--network slirp4netns.*none.*host/);
    }
  });
});

describe('an overlay mounted in the container', () => {
  const rootfs = '/b/rootfs';
  const mounts = (rootfsOverlay?: string) => {
    const s = defaultSpec();
    s.process!.args = ['true'];
    const plan = buildLaunchPlan(s, {
      bundle: '/b',
      rootfs,
      containerId: 'c1',
      preserveFds: 0,
      lsmSteps: [],
      cgroupV2: false,
      cgroupSources: new Map(),
      rootfsOverlay,
    });
    return plan.steps.filter((st): st is StepOf<PlanOp.mount> => st.op === PlanOp.mount && st.target === rootfs);
  };

  it('replaces the bind of the rootfs on itself', () => {
    const [bind] = mounts();
    expect(bind.source).toBe(rootfs);
    expect(BigInt(bind.mountFlags) & BigInt(MS.BIND)).not.toBe(0n);
    const over = mounts('lowerdir=/l,upperdir=/u,workdir=/w,userxattr');
    expect(over).toHaveLength(1);
    expect(over[0]).toMatchObject({ source: 'overlay', fstype: 'overlay', data: 'lowerdir=/l,upperdir=/u,workdir=/w,userxattr' });
  });
});
