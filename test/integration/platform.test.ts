// --platform of tcr pull and tcr run against a multi-platform index in a
// real registry: the asked platform's image is taken; one the index lacks
// is a clear error naming what it has; a stored image of another platform
// is pulled again for the asked one (docker's rule), or refused with
// --pull never.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { buildImage, buildIndex, layoutLayers, writeLayout, type BuiltImage } from '../image-fixtures.js';
import { TestRegistry, ensureRegistryTools } from './registry-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const missing = ensureRegistryTools();

describe.skipIf(lacks(isRoot && !missing && fs.existsSync(OCI)))('--platform', () => {
  const sb = new Sandbox('tcr-platform');
  const store = path.join(sb.dir, 'store');
  const reg = new TestRegistry(path.join(sb.dir, 'registry'));
  let amd: BuiltImage;
  let arm: BuiltImage;
  const tcr = (args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn(TCR, ['--root', sb.root, '--store', store, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });

  beforeAll(async () => {
    await reg.start();
    amd = await buildImage({ layers: [...layoutLayers(OCI), [{ name: 'which', content: 'amd64\n' }]], compress: 'none' });
    arm = await buildImage({ layers: [[{ name: 'which', content: 'arm64\n' }]], architecture: 'arm64' });
    const layout = path.join(sb.dir, 'layout');
    const index = buildIndex([
      { img: arm, architecture: 'arm64', variant: 'v8' },
      { img: amd, architecture: 'amd64' },
    ]);
    writeLayout(layout, [{ index, images: [amd, arm], refName: 'multi' }]);
    await reg.push(layout, 'multi', 'test/multi:1', ['--all']);
  }, 120_000);

  afterAll(async () => {
    await reg.stop();
    sb.cleanup();
  });

  it('pull --platform takes that image of the index; a platform it lacks is an error naming what it has', async () => {
    const ref = `${reg.host}/test/multi:1`;
    const a = await tcr(['pull', '-q', '--platform', 'linux/arm64', ref]);
    expect([a.status, a.stdout]).toEqual([0, `${arm.configDigest.slice(7)}\n`]);
    const none = await tcr(['pull', '-q', '--platform', 'linux/s390x', ref]);
    expect(none.status).toBe(125);
    expect(none.stderr).toMatch(/no image for linux\/s390x; the index has: linux\/arm64\/v8, linux\/amd64/);
    const bad = await tcr(['pull', '--platform', 'arm64', ref]);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringMatching(/platform "arm64": expected OS\/ARCH/)]);
  }, 60_000);

  it('run --platform: a stored image of another platform is pulled again for the one asked; --pull never refuses', async () => {
    const ref = `${reg.host}/test/multi:1`;
    const r = await tcr(['run', '--rm', '--network', 'none', '--platform', 'linux/amd64', ref, 'cat', '/which']);
    expect([r.status, r.stdout]).toEqual([0, 'amd64\n']);
    const never = await tcr(['run', '--rm', '--network', 'none', '--pull', 'never', '--platform', 'linux/arm64', ref, 'true']);
    expect(never.status).toBe(125);
    expect(never.stderr).toMatch(/is for linux\/amd64, not for --platform linux\/arm64 \(and --pull=never\)/);
  }, 60_000);
});
