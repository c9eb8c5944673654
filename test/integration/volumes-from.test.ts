// --volumes-from NAME[:ro|rw] (another container's volumes and binds, in use
// while either container exists), and a named volume's first-mount copy-up
// through a symlinked directory of the image, followed inside the image only.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { buildImage, layoutLayers, writeLayout } from '../image-fixtures.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const LINKS = [
  { name: 'srv', type: 'directory' as const },
  { name: 'srv/real', type: 'directory' as const },
  { name: 'srv/real/file', content: 'from the image\n' },
  { name: 'srv/abs', type: 'symlink' as const, linkname: '/srv/real' },
  { name: 'srv/rel', type: 'symlink' as const, linkname: 'real' },
  // far more .. than there are directories: it stops at the image's root, never the host's
  { name: 'srv/escape', type: 'symlink' as const, linkname: '../../../../../etc' },
];

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('--volumes-from and copy-up through symlinks', () => {
  const sb = new Sandbox('tcr-vol-from');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) =>
    sb.tcr(['--store', store, ...(args[0] === 'run' ? ['run', '--network', 'none', ...args.slice(1)] : args)]);
  const ok = (args: string[]) => {
    const r = tcr(args);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.status, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const containers = () => fs.readdirSync(path.join(store, 'containers'));

  beforeAll(async () => {
    const img = await buildImage({ layers: [...layoutLayers(OCI), LINKS] });
    const layout = path.join(sb.dir, 'layout');
    writeLayout(layout, [{ img, refName: 'latest' }]);
    ok(['import', '-q', layout, 'img']);
  });
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it("mounts the other container's volumes (named and anonymous) and binds, in their modes or the one given", () => {
    const host = path.join(sb.dir, 'hostdir');
    fs.mkdirSync(host);
    ok([
      'run',
      '-d',
      '--name',
      'source',
      '-v',
      'shared:/data',
      '-v',
      `${host}:/bound:ro`,
      '-v',
      '/anon',
      'img',
      'sh',
      '-c',
      'echo one > /data/f; echo two > /anon/f; sleep 300',
    ]);
    try {
      // a stopped source would do as well (docker allows it); this one is running, so wait for its writes
      for (let i = 0; i < 100 && tcr(['exec', 'source', 'cat', '/anon/f']).stdout !== 'two\n'; i++) ok(['exec', 'source', 'sleep', '0.1']);
      const script = 'cat /data/f /anon/f; touch /bound/x 2>&1; touch /data/rw && echo data-rw';
      expect(ok(['run', '--rm', '--volumes-from', 'source', 'img', 'sh', '-c', script])).toBe(
        'one\ntwo\ntouch: /bound/x: Read-only file system\ndata-rw\n',
      );
      expect(ok(['run', '--rm', '--volumes-from', 'source:ro', 'img', 'sh', '-c', 'touch /data/y 2>&1; true'])).toBe(
        'touch: /data/y: Read-only file system\n',
      );
      // the run's own -v wins on the same path
      expect(ok(['run', '--rm', '--volumes-from', 'source', '-v', 'other:/data', 'img', 'ls', '/data'])).toBe('');
      // kept, the joiner holds the volume too: volume rm is refused naming both
      ok(['run', '--name', 'joiner', '--volumes-from', 'source', 'img', 'true']);
      expect(tcr(['volume', 'rm', 'shared']).stderr).toMatch(/volume is in use by containers joiner, source/);
      ok(['rm', '-f', 'source']);
      expect(tcr(['volume', 'rm', 'shared']).stderr).toMatch(/volume is in use by container joiner /);
      ok(['rm', 'joiner']);
      expect(ok(['volume', 'rm', 'shared', 'other'])).toBe('shared\nother\n');
    } finally {
      tcr(['rm', '-f', 'source', 'joiner']);
    }
  });

  it('an unknown container or mode is refused with exit 125, nothing made', () => {
    for (const [v, message] of [
      ['nosuch', /^tcr: --volumes-from "nosuch": no such container\n$/],
      ['nosuch:rx', /^tcr: --volumes-from "nosuch:rx": give CONTAINER\[:ro\|rw\]\n$/],
    ] as const) {
      const r = tcr(['run', '--rm', '--volumes-from', v, 'img', 'true']);
      expect(r.stderr).toMatch(message);
      expect(r.status).toBe(125);
      expect(containers()).toEqual([]);
      expect(mountsUnder(sb.dir)).toEqual([]);
    }
  });

  it("a volume's first mount at a symlinked directory is filled from where the link leads in the image", () => {
    expect(ok(['run', '--rm', '-v', 'viaabs:/srv/abs', 'img', 'cat', '/srv/abs/file'])).toBe('from the image\n');
    expect(ok(['run', '--rm', '-v', 'viarel:/srv/rel', 'img', 'cat', '/srv/rel/file'])).toBe('from the image\n');
    const data = (v: string) => path.join(store, 'volumes', v, '_data');
    expect(fs.readdirSync(data('viaabs'))).toEqual(['file']);
    expect(fs.readdirSync(data('viarel'))).toEqual(['file']);
    // a link out through .. ends at the image's own /etc, not the host's
    ok(['run', '--rm', '-v', 'escape:/srv/escape', 'img', 'true']);
    // (less the files tcr mounts over /etc, whose mount points the run made in the volume)
    const notMounted = (names: string[]) => names.filter((n) => n && !['hostname', 'hosts', 'resolv.conf'].includes(n)).sort();
    const imageEtc = notMounted(ok(['run', '--rm', 'img', 'ls', '-A', '/etc']).split('\n'));
    expect(imageEtc).toContain('passwd');
    expect(notMounted(fs.readdirSync(data('escape')))).toEqual(imageEtc);
    expect(fs.readdirSync(data('escape'))).not.toContain('os-release');
    ok(['volume', 'rm', 'viaabs', 'viarel', 'escape']);
  });
});
