// `tcr unpack IMAGE DIR`: the bundle runs with `tcr run --bundle`, its
// config.json is the one `tcr run IMAGE` builds, its rootfs is the tree a
// container of the image sees (whiteouts, opaque directories, real hard
// links), from every kind of source; every hostile layer of
// test/hostile-layers.ts is refused or made harmless with nothing written
// outside DIR; and a failed or interrupted unpack leaves no DIR.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/store.js';
import { MEDIA } from '../../src/image/types.js';
import { unpackImage } from '../../src/run/unpack-image.js';
import { lgetxattrs } from '../../src/sys/fsops.js';
import { zstdCompress } from '../../src/sys/libzstd.js';
import { REPO, Sandbox, isRoot, lacks } from '../helpers.js';
import { bombChunks, neutralisedLayers, refusedLayers, truncatedLayers } from '../hostile-layers.js';
import {
  type BuiltImage,
  buildImage,
  layoutLayers,
  listTree,
  sha,
  tarDirectory,
  writeDockerArchive,
  writeLayout,
} from '../image-fixtures.js';
import { type Node, type TarEntry, makeTar, snapshot } from '../layers.js';
import { spawnTcr, uniqueId, waitFor } from './lib.js';
import { TestRegistry, ensureRegistryTools } from './registry-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const noRegistry = isRoot ? ensureRegistryTools() : 'not root';

/** Every node below a rootfs as `stat -c '%n|%f|%s|%u|%g'` prints it in the container (directory sizes left out: they depend on the file system). */
/** What `tcr run` mounts into every container, as docker does; `tcr unpack` writes none of them. */
const RUN_ETC_FILES = ['/etc/hostname', '/etc/hosts', '/etc/resolv.conf'];

function listing(lines: string[]): string[] {
  return lines
    .map((l) => {
      const [name, mode, , uid, gid] = l.split('|');
      return (Number.parseInt(mode, 16) & 0o170000) === 0o040000 ? `${name}|${mode}|-|${uid}|${gid}` : l;
    })
    .sort();
}
const LIST = "find / \\( -path /proc -o -path /sys -o -path /dev \\) -prune -o -exec stat -c '%n|%f|%s|%u|%g' {} +";
function rootfsListing(rootfs: string): string[] {
  const lines: string[] = [];
  const visit = (rel: string): void => {
    const st = fs.lstatSync(path.join(rootfs, rel));
    lines.push(`${rel || '/'}|${st.mode.toString(16)}|${st.size}|${st.uid}|${st.gid}`);
    if (st.isDirectory())
      for (const n of fs.readdirSync(path.join(rootfs, rel))) if (!['/proc', '/sys', '/dev'].includes(`${rel}/${n}`)) visit(`${rel}/${n}`);
  };
  visit('');
  return listing(lines);
}

const strip = (t: Record<string, Node>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, { ...v, ino: 0 }]));

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr unpack', () => {
  const sb = new Sandbox('tcr-unpack');
  const store = path.join(sb.dir, 'store');
  const out = path.join(sb.dir, 'out'); // bundles go here; after each test it holds only what the test left on purpose
  const S = path.join(sb.dir, 'outside'); // the sentinel hostile layers aim at
  const tcr = (args: string[], opts = {}) => sb.tcr(['--store', store, ...args], opts);
  const storeLayers = () => listTree(path.join(store, 'layers'));
  let ml: BuiltImage;
  let mlLayout: string;
  let n = 0;
  const layout = (img: BuiltImage): string => {
    const dir = path.join(sb.dir, 'layouts', `l${n++}`);
    writeLayout(dir, [{ img, refName: 'latest' }]);
    return dir;
  };

  beforeAll(async () => {
    const r = tcr(['import', '-q', OCI, 'busybox']);
    expect(r.stderr).toBe('');
    fs.mkdirSync(out);
    fs.mkdirSync(path.join(S, 'sub'), { recursive: true });
    fs.writeFileSync(path.join(S, 'file'), 'original');
    // busybox, then a layer with a hard link, then one that deletes, hides and links across layers
    ml = await buildImage({
      layers: [
        ...layoutLayers(OCI),
        [
          { name: 'etc/gone', content: 'gone' },
          { name: 'opt/', type: 'directory' },
          { name: 'opt/x/', type: 'directory' },
          { name: 'opt/x/old', content: 'o1' },
          { name: 'opt/x/sub/', type: 'directory' },
          { name: 'opt/x/sub/old2', content: 'o2' },
          { name: 'data/', type: 'directory' },
          { name: 'data/orig', content: 'shared', mode: 0o640 },
          { name: 'data/link1', type: 'link', linkname: 'data/orig' },
          { name: 'keep', content: 'k1' },
        ],
        [
          { name: 'etc/.wh.gone' },
          { name: 'usr/sbin/.wh.telnetd' },
          { name: 'opt/x/', type: 'directory' },
          { name: 'opt/x/.wh..wh..opq' },
          { name: 'opt/x/new', content: 'n' },
          { name: 'data/link2', type: 'link', linkname: 'data/orig' },
          { name: 'keep', content: 'k2' },
        ],
      ],
      editConfig: (c) => ((c.config as Record<string, unknown>).Cmd = ['sh']),
    });
    mlLayout = layout(ml);
  }, 60_000);
  afterAll(() => sb.cleanup());

  it('unpacks the busybox image into a bundle that `tcr run --bundle` runs', () => {
    const dir = path.join(out, 'bb');
    const r = tcr(['unpack', 'busybox', dir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'rootfs']);
    // a bundle of its own: nothing of the store in it, a new DIR only for its owner
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(JSON.parse(text).root).toEqual({ path: 'rootfs', readonly: false });
    expect(text).not.toContain(store);
    expect(text).not.toMatch(/overlay|upperdir/);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const run = sb.tcr(['run', '--bundle', dir, uniqueId('u')], {
      input: 'echo hello from $(hostname) as $(id -u); head -1 /etc/passwd\n',
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hello from bb as 0\nroot:x:0:0:root:/root:/bin/sh\n');
    expect(run.status).toBe(0);
    fs.rmSync(dir, { recursive: true });
  });

  it('writes the config.json that `tcr run IMAGE` builds, but for the root and the name', () => {
    const dir = path.join(out, 'cfg');
    expect(tcr(['unpack', 'busybox', dir]).status).toBe(0);
    const id = uniqueId('cfg');
    const run = tcr(['run', '--network', 'none', '--name', id, 'busybox']);
    try {
      expect(run.status).toBe(0);
      const fromRun = fs.readFileSync(path.join(store, 'containers', id, 'config.json'), 'utf8');
      // the container's name is its host name (cut to 12, as docker's ids); the bundle's is its directory's
      const expected = JSON.parse(fromRun.replaceAll(id, 'cfg').replaceAll(id.slice(0, 12), 'cfg'));
      expected.root.path = 'rootfs';
      // the /etc files a run writes for each container (src/network/etc-files.ts) are not the bundle's
      expected.mounts = expected.mounts.filter((m: { destination: string }) => !RUN_ETC_FILES.includes(m.destination));
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(expected);
    } finally {
      tcr(['rm', id]);
      fs.rmSync(dir, { recursive: true });
    }
  });

  for (const [what, image] of [
    ['busybox', () => 'busybox'],
    ['a multi-layer image', () => `oci:${mlLayout}`],
  ] as const) {
    it(`the rootfs is the tree a container of ${what} sees: names, types, modes, sizes, owners`, () => {
      const dir = path.join(out, 'tree');
      expect(tcr(['unpack', image(), dir]).status).toBe(0);
      const inside = tcr(['run', '--rm', '--network', 'none', image(), 'sh', '-c', LIST]);
      expect(inside.status).toBe(0);
      // less the /etc files the run mounted over the image's (neither image has them)
      const seen = listing(inside.stdout.trim().split('\n')).filter((l) => !RUN_ETC_FILES.includes(l.split('|')[0]));
      expect(seen.length).toBeGreaterThan(100);
      expect(rootfsListing(path.join(dir, 'rootfs'))).toEqual(seen);
      fs.rmSync(dir, { recursive: true });
    });
  }

  it('applies whiteouts and opaque directories across layers, and hard links are real links, across layers too', () => {
    const dir = path.join(out, 'ml');
    const before = storeLayers();
    const r = tcr(['unpack', '-q', `oci:${mlLayout}:latest`, dir]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // a layout is unpacked without going through the image store
    expect(storeLayers()).toEqual(before);
    const root = path.join(dir, 'rootfs');
    expect(fs.existsSync(path.join(root, 'etc/gone'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'usr/sbin/telnetd'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'usr/sbin/chroot'))).toBe(true);
    expect(listTree(path.join(root, 'opt'))).toEqual(['x', 'x/new']);
    expect(fs.readFileSync(path.join(root, 'keep'), 'utf8')).toBe('k2');
    const orig = fs.statSync(path.join(root, 'data/orig'));
    expect(orig.nlink).toBe(3);
    for (const l of ['link1', 'link2']) expect(fs.statSync(path.join(root, 'data', l)).ino).toBe(orig.ino);
    // and so the bundle's container sees it
    const run = sb.tcr(['run', '--bundle', dir, uniqueId('m')], { input: 'stat -c %h /data/orig; ls /opt/x; cat /keep\n' });
    expect(run.stdout).toBe('3\nnew\nk2');
    fs.rmSync(dir, { recursive: true });
  });

  it('unpacks the same rootfs from a docker-archive and an oci-archive', async () => {
    const ref = path.join(out, 'ref');
    expect(tcr(['unpack', '-q', `oci:${mlLayout}`, ref]).status).toBe(0);
    const want = strip(snapshot(path.join(ref, 'rootfs'), lgetxattrs));
    const docker = path.join(sb.dir, 'ml-docker.tar');
    await writeDockerArchive(docker, [{ img: ml, repoTags: ['ml:1'] }]);
    const oci = path.join(sb.dir, 'ml-oci.tar');
    await tarDirectory(mlLayout, oci);
    const before = storeLayers();
    for (const source of [`docker-archive:${docker}`, `docker-archive:${docker}:ml:1`, `oci-archive:${oci}:latest`]) {
      const dir = path.join(out, 'arch');
      const r = tcr(['unpack', '-q', source, dir]);
      expect({ source, stderr: r.stderr, status: r.status }).toEqual({ source, stderr: '', status: 0 });
      expect(strip(snapshot(path.join(dir, 'rootfs'), lgetxattrs))).toEqual(want);
      fs.rmSync(dir, { recursive: true });
    }
    expect(storeLayers()).toEqual(before);
    fs.rmSync(ref, { recursive: true });
  });

  it.skipIf(lacks(!noRegistry))(
    'pulls a registry image into the store, as `tcr run` does, and unpacks it',
    async () => {
      const reg = new TestRegistry(path.join(sb.dir, 'registry'));
      await reg.start();
      try {
        await reg.push(mlLayout, 'latest', 'unpack/ml:1');
        const dir = path.join(out, 'reg');
        const r = tcr(['unpack', '-q', `${reg.host}/unpack/ml:1`, dir]);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(tcr(['images', '-q', `${reg.host}/unpack/ml:1`]).stdout).toBe(`${ml.configDigest.slice(7, 19)}\n`);
        expect(fs.statSync(path.join(dir, 'rootfs/data/orig')).nlink).toBe(3);
        fs.rmSync(dir, { recursive: true });
      } finally {
        await reg.stop();
      }
    },
    120_000,
  );

  it('refuses a DIR that exists and is not empty, naming it, and leaves it alone; an empty one is used and keeps its mode', () => {
    const full = path.join(out, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'mine'), 'x');
    const r = tcr(['unpack', 'busybox', full]);
    expect(r.stderr).toBe(`tcr: ${full} exists and is not empty: give a new or empty directory\n`);
    expect(r.status).toBe(1);
    expect(fs.readdirSync(full)).toEqual(['mine']);
    const file = path.join(out, 'file');
    fs.writeFileSync(file, 'x');
    expect(tcr(['unpack', 'busybox', file]).stderr).toMatch(/file exists and is not a directory/);
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
    expect(fs.readdirSync(out).sort()).toEqual(['file', 'full']);
    fs.rmSync(full, { recursive: true });
    fs.rmSync(file);

    const empty = path.join(out, 'empty');
    fs.mkdirSync(empty, { mode: 0o750 });
    fs.chmodSync(empty, 0o750);
    expect(tcr(['unpack', 'busybox', empty]).status).toBe(0);
    expect(fs.statSync(empty).mode & 0o777).toBe(0o750);
    expect(fs.readdirSync(empty).sort()).toEqual(['config.json', 'rootfs']);
    fs.rmSync(empty, { recursive: true });
  });

  describe('a failed unpack leaves no DIR', () => {
    afterEach(() => expect(fs.readdirSync(out)).toEqual([]));
    const dir = () => path.join(out, 'failed');

    it('for a bad reference, an image that is not there, or a DIR whose parent is missing', () => {
      const bad = tcr(['unpack', 'Bad/Name', dir()]);
      expect(bad.stderr).toMatch(/invalid image reference "Bad\/Name": repository names must be lowercase/);
      expect(bad.status).toBe(1);
      const missing = tcr(['unpack', '--pull', 'never', 'no-such-image', dir()]);
      expect(missing.stderr).toBe(
        `tcr: unpacking no-such-image into ${dir()}: image no-such-image is not in the image store ${store} (and --pull=never)\n`,
      );
      expect(missing.status).toBe(1);
      const noLayout = tcr(['unpack', `oci:${sb.dir}/nothing`, dir()]);
      expect(noLayout.stderr).toMatch(/OCI layout .*nothing: no such directory/);
      const noParent = tcr(['unpack', 'busybox', path.join(out, 'a', 'b')]);
      expect(noParent.stderr).toBe(`tcr: ${path.join(out, 'a', 'b')}: its parent directory ${path.join(out, 'a')} does not exist\n`);
      expect(noParent.status).toBe(1);
    });

    it('for a corrupt layer blob or a layer that is not the one the config names', async () => {
      const corrupt = layout(ml);
      const blobFile = path.join(corrupt, 'blobs', 'sha256', ml.layers[2].digest.slice(7));
      const b = fs.readFileSync(blobFile);
      b[b.length - 20] ^= 0xff;
      fs.writeFileSync(blobFile, b);
      const r = tcr(['unpack', '-q', `oci:${corrupt}`, dir()]);
      expect(r.stderr).toMatch(new RegExp(`unpacking oci:${corrupt} into ${dir()}: .*(digest|gzip)`));
      expect(r.status).toBe(1);
      const lying = layout(
        await buildImage({
          layers: [[{ name: 'f', content: 'x' }]],
          editConfig: (c) => ((c.rootfs as { diff_ids: string[] }).diff_ids = [sha('other')]),
        }),
      );
      expect(tcr(['unpack', '-q', `oci:${lying}`, dir()]).stderr).toMatch(/diffID mismatch/);
    });

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`when interrupted by ${signal} half-way through a layer`, async () => {
        // the layer's blob is a FIFO: tcr is inside the layer for as long as this test wants
        const tar = await makeTar([
          { name: 'early', content: 'e' },
          { name: 'big', content: Buffer.alloc(1 << 20, 1) },
        ]);
        const img = await buildImage({ layers: [tar], compress: 'none' });
        const slow = layout(img);
        const fifo = path.join(slow, 'blobs', 'sha256', img.layers[0].digest.slice(7));
        fs.rmSync(fifo);
        expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
        const { child, done } = spawnTcr(sb, ['--store', store, 'unpack', '-q', `oci:${slow}`, dir()]);
        let fd = -1;
        try {
          await waitFor(
            () => {
              try {
                fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
                return true;
              } catch {
                return false;
              }
            },
            10_000,
            'tcr to open the layer',
          );
          fs.writeSync(fd, tar.subarray(0, 8192));
          const early = (): boolean => {
            const stage = fs.readdirSync(out).find((e) => e.startsWith('.failed.tcr-unpack-'));
            try {
              return stage !== undefined && listTree(path.join(out, stage)).some((f) => f.endsWith('/diff/early'));
            } catch {
              return false; // changed under the walk
            }
          };
          await waitFor(early, 10_000, 'the first file of the layer');
          child.kill(signal);
          const r = await done;
          expect(r.signal).toBe(signal);
        } finally {
          if (fd >= 0) fs.closeSync(fd);
          child.kill('SIGKILL');
        }
      });
    }
  });

  describe('hostile layers: nothing is written outside DIR', () => {
    let before: Record<string, Node>;
    let layers: string[];
    beforeEach(() => {
      before = snapshot(S, lgetxattrs);
      layers = storeLayers();
    });
    afterEach(() => {
      expect(snapshot(S, lgetxattrs)).toEqual(before);
      expect(fs.readdirSync(out)).toEqual([]);
      expect(fs.existsSync('/pwned')).toBe(false);
      expect(storeLayers()).toEqual(layers);
    });
    const dir = () => path.join(out, 'hostile');
    const unpack = (img: BuiltImage) => {
      const source = `oci:${layout(img)}`;
      return { source, ...tcr(['unpack', '-q', source, dir()]) };
    };

    for (const { what, tar, message, gzipped } of [...refusedLayers(S), ...truncatedLayers()]) {
      it(`refuses ${what}`, async () => {
        const t = await tar();
        const r = unpack(await buildImage({ layers: [gzipped ? { blob: t, diffId: sha(t), mediaType: MEDIA.ociLayerGzip } : t] }));
        expect(r.stderr).toMatch(new RegExp(`^tcr: unpacking ${r.source} into ${dir()}: .*layer sha256:[0-9a-f]{64}: .*`));
        expect(r.stderr).toMatch(message);
        expect(r.status).toBe(1);
      });
    }

    // what the layer unpacker's tests try on two layers (test/integration/unpack.test.ts)
    const twoLayers: [string, TarEntry[], TarEntry[], RegExp][] = [
      [
        'a hard link whose target a lower layer reaches through a symlink',
        [{ name: 'a', type: 'symlink', linkname: S }],
        [{ name: 'h', type: 'link', linkname: 'a/file' }],
        /entry "h": hard link target "a\/file" is not in this layer or the layers below/,
      ],
      [
        'a hard link to a name a lower layer has but this layer whited out',
        [{ name: 'f', content: 'x' }],
        [{ name: '.wh.f' }, { name: 'h', type: 'link', linkname: 'f' }],
        /hard link target "f" is not in this layer/,
      ],
    ];
    for (const [what, lower, upper, message] of twoLayers) {
      it(`refuses ${what}`, async () => {
        const r = unpack(await buildImage({ layers: [await makeTar(lower), await makeTar(upper)] }));
        expect(r.stderr).toMatch(message);
        expect(r.status).toBe(1);
      });
    }

    it("replaces a lower layer's symlink by an upper directory instead of writing through it", async () => {
      const lower: TarEntry[] = [
        { name: 'a', type: 'symlink', linkname: S },
        { name: 'b', type: 'symlink', linkname: S },
      ];
      const upper: TarEntry[] = [{ name: 'a/', type: 'directory' }, { name: 'a/file', content: 'pwned' }, { name: 'b/.wh.file' }];
      const r = unpack(await buildImage({ layers: [await makeTar(lower), await makeTar(upper)] }));
      expect(r.status).toBe(0);
      expect(fs.readFileSync(path.join(dir(), 'rootfs/a/file'), 'utf8')).toBe('pwned');
      expect(fs.lstatSync(path.join(dir(), 'rootfs/b')).isDirectory()).toBe(true);
      fs.rmSync(dir(), { recursive: true });
    });

    for (const { what, tar, check } of neutralisedLayers(S)) {
      it(what, async () => {
        const r = unpack(await buildImage({ layers: [await tar()] }));
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        check(path.join(dir(), 'rootfs'));
        fs.rmSync(dir(), { recursive: true });
      });
    }

    for (const kind of ['gzip', 'zstd'] as const) {
      it(`stops a ${kind} decompression bomb at the layer size limit with bounded memory`, async () => {
        const chunks = bombChunks((b) => (kind === 'gzip' ? zlib.gzipSync(b) : zstdCompress(b)));
        const blob = Buffer.concat(chunks);
        const source = `oci:${layout(await buildImage({ layers: [{ blob, diffId: sha('not checked: the limit stops it first'), mediaType: kind === 'gzip' ? MEDIA.ociLayerGzip : MEDIA.ociLayerZstd }] }))}`;
        const rss0 = process.memoryUsage().rss;
        let peak = rss0;
        const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
        try {
          await expect(unpackImage(new ImageStore({ root: store }), source, dir(), { maxLayerBytes: 256 << 20 })).rejects.toThrow(
            /larger than the limit of 268435456 bytes/,
          );
        } finally {
          clearInterval(timer);
        }
        expect(peak - rss0).toBeLessThan(96 << 20);
      }, 60_000);
    }
  });
});
