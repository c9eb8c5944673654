// docs/ARCHITECTURE.md, "Crash safety": `tcr create` killed -9 at any
// instant, then `tcr delete --force`, must leave no cgroup, state, mount or
// process.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, mountsUnder, pidsWithRootUnder, lacks } from '../helpers.js';
import { killedAfter } from './lib.js';

const CGROUP_PARENT = `tcr-crash-test-${process.pid}`;

function cgroupDirsLeft(): string[] {
  const left: string[] = [];
  for (const h of fs.readdirSync('/sys/fs/cgroup')) {
    const dir = path.join('/sys/fs/cgroup', h, CGROUP_PARENT);
    if (!fs.existsSync(dir)) continue;
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) if (d.isDirectory()) left.push(path.join(dir, d.name));
  }
  return left;
}

describe.skipIf(lacks(isRoot))('crash safety', () => {
  const sb = new Sandbox('tcr-crash');
  const bundle = sb.bundle('b', (s) => {
    s.process!.args = ['sleep', '60'];
    s.linux!.cgroupsPath = undefined;
  });
  afterAll(() => {
    sb.cleanup();
    for (const h of fs.readdirSync('/sys/fs/cgroup')) {
      const dir = path.join('/sys/fs/cgroup', h, CGROUP_PARENT);
      for (const leaf of fs.existsSync(dir) ? fs.readdirSync(dir) : []) {
        try {
          fs.rmdirSync(path.join(dir, leaf));
        } catch {
          // a file, not a cgroup
        }
      }
      try {
        fs.rmdirSync(dir);
      } catch {
        // not there
      }
    }
  });

  it('leaves nothing behind when create is killed -9 at a random moment', async () => {
    const config = path.join(bundle, 'config.json');
    const rounds = 24;
    let killedMidway = 0;
    for (let i = 0; i < rounds; i++) {
      const id = `crash${i}`;
      const spec = JSON.parse(fs.readFileSync(config, 'utf8'));
      spec.linux.cgroupsPath = `/${CGROUP_PARENT}/${id}`;
      fs.writeFileSync(config, JSON.stringify(spec));
      // spread the kills over the whole create (node start-up included)
      if (await killedAfter(['--root', sb.root, 'create', '--bundle', bundle, id], 40 + ((i * 37) % 120))) killedMidway++;
      const del = sb.tcr(['delete', '--force', id]);
      expect(del.stderr).toBe('');
      expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
    }
    expect(killedMidway).toBeGreaterThan(0);
    expect(cgroupDirsLeft()).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(pidsWithRootUnder(sb.dir)).toEqual([]);
  }, 120_000);
});
