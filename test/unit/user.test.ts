// The image's User resolved against the image's own /etc/passwd and
// /etc/group, top layer first, and never against a file outside the image.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveUser } from '../../src/container/passwd.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-user-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function layer(name: string, files: Record<string, string> = {}): string {
  const l = path.join(dir, name);
  for (const [f, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(l, f)), { recursive: true });
    fs.writeFileSync(path.join(l, f), text);
  }
  fs.mkdirSync(l, { recursive: true });
  return l;
}

describe('resolveUser', () => {
  const lower = layer('lower', {
    'etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n',
    'etc/group': 'app:x:1000:\nextra:x:2000:app\n',
  });

  it('takes names, groups and supplementary groups from the layers', () => {
    expect(resolveUser('app', [lower])).toEqual({ uid: 1000, gid: 1000, additionalGids: [2000] });
    expect(resolveUser('app:extra', [lower])).toEqual({ uid: 1000, gid: 2000 });
    expect(() => resolveUser('nobody', [lower])).toThrow(/no such user in the image's \/etc\/passwd/);
  });

  it('reads the topmost layer that has the file', () => {
    const upper = layer('upper', { 'etc/passwd': 'app:x:1001:1001::/:/bin/sh\n' });
    expect(resolveUser('app', [upper, lower]).uid).toBe(1001);
  });

  it("does not follow a layer's etc symlink out of the image (to the host's /etc/passwd)", () => {
    const outside = layer('outside', { passwd: 'evil:x:4242:4242::/:/bin/sh\n' });
    const hostile = layer('hostile');
    fs.symlinkSync(outside, path.join(hostile, 'etc'));
    expect(() => resolveUser('evil', [hostile, lower])).toThrow(/no such user/);
    expect(() => resolveUser('root', [hostile])).toThrow(/no such user/); // the host's root is not the image's
  });
});
