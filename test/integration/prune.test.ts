// docker's prune commands: container prune (stopped ones only, --filter
// until/label), image prune (dangling; -a: unused), system prune (containers,
// unused user networks, images, --volumes: unused anonymous volumes), the
// confirmation read from stdin, docker's "Deleted ..." and "Total reclaimed
// space" lines, and nothing that a container uses removed.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { dropBridge, editedLayout, freeSubnet, haveCni, OCI } from './network-lib.js';

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr container|image|system prune', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-prune');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[], input?: string) => sb.tcr(['--store', store, ...args], input === undefined ? {} : { input });
  const run = (...args: string[]) => tcr(['run', '--network', 'none', ...args]);
  const ids = () => tcr(['ps', '-aq']).stdout;
  const images = () => tcr(['images', '--format', 'json']).stdout;
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((i) => !i.startsWith('.')) : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('container prune: asks on stdin; removes the stopped containers only, with their directories', () => {
    expect(run('-d', '--name', 'alive', 'busybox', 'sleep', '300').status).toBe(0);
    expect(run('--name', 'dead1', 'busybox', 'sh', '-c', 'head -c 3000 /dev/zero > /x').status).toBe(0);
    expect(run('--name', 'dead2', 'busybox', 'true').status).toBe(0);
    const no = tcr(['container', 'prune'], 'n\n');
    expect([no.status, no.stdout]).toEqual([
      0,
      'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ',
    ]);
    expect(tcr(['container', 'prune'], '').stdout).not.toContain('Deleted'); // no answer is no
    expect(ids()).toBe('dead2\ndead1\nalive\n');
    // until: only what was created before; a minute ago is none of these
    expect(tcr(['container', 'prune', '-f', '--filter', 'until=1m']).stdout).toBe('Total reclaimed space: 0B\n');
    const yes = tcr(['container', 'prune'], 'y\n');
    expect([yes.status, yes.stderr]).toEqual([0, '']);
    expect(yes.stdout).toBe(
      'WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] Deleted Containers:\ndead1\ndead2\n\nTotal reclaimed space: 3kB\n',
    );
    expect(ids()).toBe('alive\n');
    expect(fs.readdirSync(path.join(store, 'containers'))).toEqual(['alive']);
    expect(tcr(['container', 'prune', '-f']).stdout).toBe('Total reclaimed space: 0B\n');
    const bad = tcr(['container', 'prune', '-f', '--filter', 'colour=red']);
    expect([bad.status, bad.stderr]).toEqual([125, expect.stringContaining("invalid filter 'colour'")]);
    const badUntil = tcr(['container', 'prune', '-f', '--filter', 'until=soon']);
    expect([badUntil.status, badUntil.stderr]).toEqual([125, expect.stringContaining('until=soon: not a duration')]);
    expect(tcr(['rm', '-f', 'alive']).status).toBe(0);
  });

  it('image prune: dangling images only; -a: every image without a container; an image under a container stays', () => {
    expect(
      tcr(['import', '-q', editedLayout(path.join(sb.dir, 'other'), (c) => ({ ...c, Labels: { other: 'yes' } })), 'other']).status,
    ).toBe(0);
    expect(run('-d', '--name', 'user', 'other', 'sleep', '300').status).toBe(0);
    // untagged while in use: dangling, but its container keeps it
    expect(tcr(['rmi', '-f', 'other']).status).toBe(0);
    expect(tcr(['image', 'prune', '-f']).stdout).toBe('Total reclaimed space: 0B\n');
    expect(JSON.parse(images())).toHaveLength(2);
    // -a keeps busybox while a container uses it, and the untagged one under "user"
    expect(run('-d', '--name', 'bb', 'busybox', 'sleep', '300').status).toBe(0);
    expect(tcr(['image', 'prune', '-a', '-f']).stdout).toBe('Total reclaimed space: 0B\n');
    expect(tcr(['rm', '-f', 'user']).status).toBe(0);
    const p = tcr(['image', 'prune'], 'y\n');
    expect(p.stdout).toMatch(
      /^WARNING! This will remove all dangling images\.\nAre you sure you want to continue\? \[y\/N\] Deleted Images:\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: \d+(\.\d+)?[kM]?B\n$/,
    );
    expect(tcr(['rm', '-f', 'bb']).status).toBe(0);
    const a = tcr(['image', 'prune', '-a', '-f']);
    expect(a.stdout).toMatch(
      /^Deleted Images:\nuntagged: docker\.io\/library\/busybox:latest\ndeleted: sha256:[0-9a-f]{64}\n\nTotal reclaimed space: 2\.\d+MB\n$/,
    );
    expect(JSON.parse(images())).toEqual([]);
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });

  it.skipIf(!haveCni)('system prune: stopped containers, unused networks, images; --volumes: unused anonymous volumes', () => {
    const used = `tcrpu${process.pid}`;
    const unused = `tcrpn${process.pid}`;
    expect(tcr(['network', 'create', '--subnet', freeSubnet(220), used]).status).toBe(0);
    expect(tcr(['network', 'create', '--subnet', freeSubnet(230), unused]).status).toBe(0);
    const bridges = [used, unused].map((n) => JSON.parse(tcr(['network', 'inspect', n]).stdout)[0].Bridge as string);
    try {
      expect(tcr(['run', '-d', '--network', used, '--name', 'svc', '-v', '/kept', 'busybox', 'sleep', '300']).status).toBe(0);
      expect(
        run('--name', 'old', '-v', '/scratch', '-v', 'named:/n', 'busybox', 'sh', '-c', 'head -c 2000 /dev/zero > /scratch/f').status,
      ).toBe(0);
      const volumes = () => tcr(['volume', 'ls', '-q']).stdout.split('\n').filter(Boolean);
      expect(volumes()).toHaveLength(3);
      const no = tcr(['system', 'prune'], 'no\n');
      expect(no.stdout).toBe(
        'WARNING! This will remove:\n  - all stopped containers\n  - all networks not used by at least one container\n  - all dangling images\n\nAre you sure you want to continue? [y/N] ',
      );
      expect(ids()).toBe('old\nsvc\n');
      const r = tcr(['system', 'prune', '--volumes', '-f']);
      expect([r.status, r.stderr]).toEqual([0, '']);
      const scratch = volumes().length; // before: svc's anonymous, old's anonymous, named
      expect(scratch).toBe(2);
      expect(r.stdout).toMatch(
        new RegExp(
          `^Deleted Containers:\\nold\\n\\nDeleted Networks:\\n${unused}\\n\\nDeleted Volumes:\\n[0-9a-f]{64}\\n\\nTotal reclaimed space: 2kB\\n$`,
        ),
      );
      expect(ids()).toBe('svc\n');
      expect(volumes()).toContain('named'); // named volumes stay, as docker 23's
      expect(tcr(['network', 'ls', '-q']).stdout.split('\n')).toContain(used);
      expect(fs.existsSync(`/sys/class/net/${bridges[1]}`)).toBe(false);
      expect(mountsUnder(path.join(store, 'containers', 'old') + '/')).toEqual([]);
    } finally {
      tcr(['rm', '-f', 'svc', 'old']);
      for (const n of [used, unused]) tcr(['network', 'rm', n]);
      for (const b of bridges) dropBridge(b);
    }
  });
});
