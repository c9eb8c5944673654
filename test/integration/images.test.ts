// The image store and its on-disk sources, through the library: OCI layout
// directories, oci-archives and docker-archives built in the test, imported
// and checked in the store; and every kind of broken image refused with a
// clear error and nothing left behind. A private store per test.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openArchive, openLayoutDir } from '../../src/image/archive.js';
import { importOpened, openLocalSource, pullImage } from '../../src/image/pull.js';
import { ImageStore } from '../../src/image/store.js';
import {
  buildImage,
  buildIndex,
  listTree,
  sha,
  tarDirectory,
  testUnpack,
  writeDockerArchive,
  writeLayout,
  type BuiltImage,
} from '../image-fixtures.js';
import { isRoot, lacks } from '../helpers.js';

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-images-'));
afterAll(() => {
  spawnSync('umount', ['-l', path.join(top, 'tiny')]);
  fs.rmSync(top, { recursive: true, force: true });
});

let n = 0;
let dir: string;
let store: ImageStore;
beforeEach(() => {
  dir = path.join(top, `t${n++}`);
  fs.mkdirSync(dir);
  store = new ImageStore({ root: path.join(dir, 'store'), unpack: testUnpack });
});

const two = () =>
  buildImage({
    layers: [
      [
        { name: 'etc/', type: 'directory' },
        { name: 'etc/os-release', content: 'ID=test\n' },
      ],
      [
        { name: 'bin/', type: 'directory' },
        { name: 'bin/hello', content: '#!/bin/sh\necho hi\n', mode: 0o755 },
      ],
    ],
  });

/** The store holds nothing but its bookkeeping: no image, layer, blob or staging leftovers. */
function expectEmptyStore(s = store): void {
  expect(s.list()).toEqual([]);
  const left = listTree(s.root).filter(
    (f) => !['lock', 'gc.lock', 'images.json', 'blobs', 'blobs/sha256', 'layers', 'layers/sha256', 'tmp'].includes(f),
  );
  expect(left).toEqual([]);
}

function layout(entries: Parameters<typeof writeLayout>[1], name = 'layout'): string {
  const d = path.join(dir, name);
  writeLayout(d, entries);
  return d;
}

describe('OCI image layout', () => {
  it('imports an image: layers by diffID, blobs, index entry, names', async () => {
    const img = await two();
    const d = layout([{ img, refName: 'v1' }], 'myapp');
    const [stored] = await importOpened(store, await openLayoutDir(d));
    expect(stored).toMatchObject({
      configDigest: img.configDigest,
      manifestDigest: img.manifestDigest,
      names: ['localhost/myapp:v1'],
      diffIds: img.layers.map((l) => l.diffId),
      created: '2024-01-02T03:04:05Z',
    });
    expect(stored.size).toBeGreaterThan(0);
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[0].diffId), 'etc/os-release'), 'utf8')).toBe('ID=test\n');
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[1].diffId), 'bin/hello'), 'utf8')).toContain('echo hi');
    expect(store.resolve('localhost/myapp:v1')?.configDigest).toBe(img.configDigest);
    expect(store.resolve(img.configDigest.slice(7, 19))?.configDigest).toBe(img.configDigest);
    expect(store.resolve(img.configDigest)?.configDigest).toBe(img.configDigest);
    expect(store.config(stored).config?.Cmd).toEqual(['/bin/sh']);
    expect(store.manifest(stored).layers).toHaveLength(2);
    expect(store.layerDirs(stored)).toEqual(img.layers.map((l) => store.layerDir(l.diffId)));
    // a second import reuses the layers
    const again = await importOpened(store, await openLayoutDir(d), { names: ['other:1'] });
    expect(again[0].names.sort()).toEqual(['docker.io/library/other:1', 'localhost/myapp:v1']);
    expect(fs.readdirSync(path.join(store.root, 'layers', 'sha256'))).toHaveLength(2);
    expect(store.list()).toHaveLength(1);
  });

  it('takes an image by tag, and asks for one when there are several', async () => {
    const a = await two();
    const b = await buildImage({ layers: [[{ name: 'b', content: 'b' }]] });
    const d = layout([
      { img: a, refName: 'a' },
      { img: b, refName: 'docker.io/library/bee:2' },
    ]);
    await expect(openLayoutDir(d)).rejects.toThrow(/holds several images; name one with .*:TAG \(tags: a, docker.io\/library\/bee:2\)/);
    await expect(openLayoutDir(d, { tag: 'zzz' })).rejects.toThrow(/no image tagged "zzz"; it has: a, docker.io/);
    const [img] = await importOpened(store, await openLocalSource(`oci:${d}:docker.io/library/bee:2`));
    expect(img.names).toEqual(['docker.io/library/bee:2']);
    expect(store.resolve('bee:2')?.configDigest).toBe(b.configDigest);
    const all = await importOpened(store, await openLayoutDir(d, { all: true }));
    expect(all).toHaveLength(2);
  });

  it('picks linux/amd64 from a multi-platform index, and names the platforms it has otherwise', async () => {
    const amd = await two();
    const arm = await buildImage({ layers: [[{ name: 'arm', content: 'arm' }]], architecture: 'arm64' });
    const index = buildIndex([
      { img: arm, architecture: 'arm64', variant: 'v8' },
      { img: amd, architecture: 'amd64' },
    ]);
    const d = layout([{ index, images: [amd, arm], refName: 'multi' }]);
    const [img] = await importOpened(store, await openLayoutDir(d));
    expect(img.configDigest).toBe(amd.configDigest);
    const only = layout([{ index: buildIndex([{ img: arm, architecture: 'arm64', variant: 'v8' }]), images: [arm] }], 'armonly');
    await expect(openLayoutDir(only)).rejects.toThrow(/no image for linux\/amd64; the index has: linux\/arm64\/v8/);
    expect(store.list()).toHaveLength(1);
  });

  it('refuses what is not a layout', async () => {
    await expect(openLayoutDir(path.join(dir, 'nope'))).rejects.toThrow(/no such directory/);
    fs.mkdirSync(path.join(dir, 'empty'));
    await expect(openLayoutDir(path.join(dir, 'empty'))).rejects.toThrow(/not an OCI image layout \(no oci-layout\)/);
  });
});

describe('archives', () => {
  it('loads an oci-archive, plain and gzipped', async () => {
    const img = await two();
    const d = layout([{ img, refName: 'docker.io/library/arch:1' }]);
    for (const gzip of [false, true]) {
      const file = path.join(dir, `img${gzip ? '.tar.gz' : '.tar'}`);
      await tarDirectory(d, file, { gzip });
      const opened = await openArchive(file, { all: true });
      expect(opened.format).toBe('oci-archive');
      const [s] = await importOpened(store, opened);
      expect(s.names).toEqual(['docker.io/library/arch:1']);
    }
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[1].diffId), 'bin/hello'), 'utf8')).toContain('echo hi');
  });

  for (const format of ['legacy', 'blobs'] as const) {
    it(`loads a ${format} docker-archive with several images and a shared layer`, async () => {
      const a = await buildImage({
        compress: 'none',
        docker: true,
        layers: [[{ name: 'base', content: 'base' }], [{ name: 'a', content: 'a' }]],
      });
      const b = await buildImage({
        compress: 'none',
        docker: true,
        layers: [[{ name: 'base', content: 'base' }], [{ name: 'b', content: 'b' }]],
      });
      expect(a.layers[0].diffId).toBe(b.layers[0].diffId);
      const file = path.join(dir, 'save.tar');
      await writeDockerArchive(
        file,
        [
          { img: a, repoTags: ['alpha:1', 'alpha:latest'] },
          { img: b, repoTags: ['localhost:5000/beta:2'] },
        ],
        format,
      );
      const opened = await openArchive(file, { all: true });
      expect(opened.format).toBe('docker-archive');
      const imgs = await importOpened(store, opened);
      expect(imgs.map((i) => i.names)).toEqual([
        ['docker.io/library/alpha:1', 'docker.io/library/alpha:latest'],
        ['localhost:5000/beta:2'],
      ]);
      expect(imgs.map((i) => i.configDigest)).toEqual([a.configDigest, b.configDigest]);
      expect(fs.readdirSync(path.join(store.root, 'layers', 'sha256'))).toHaveLength(3);
      expect(fs.readFileSync(path.join(store.layerDir(b.layers[1].diffId), 'b'), 'utf8')).toBe('b');
      // docker-archive:FILE:NAME takes one
      await expect(openLocalSource(`docker-archive:${file}`)).rejects.toThrow(/holds 2 images; name one/);
      const one = await openLocalSource(`docker-archive:${file}:localhost:5000/beta:2`);
      expect(one.images).toHaveLength(1);
    });
  }

  it('loads a docker-archive whose layer.tar is gzip-compressed', async () => {
    const img = await buildImage({ layers: [[{ name: 'z', content: 'zipped' }]] });
    const file = path.join(dir, 'gz.tar');
    await writeDockerArchive(file, [{ img, repoTags: ['gz:1'] }]);
    const [s] = await importOpened(store, await openArchive(file));
    expect(fs.readFileSync(path.join(store.layerDir(s.diffIds[0]), 'z'), 'utf8')).toBe('zipped');
  });

  it('unpacks each layer over its lowers, whatever order the archive holds them in', async () => {
    // blobs/sha256/ is in digest order, not layer order; a hard link in an upper layer names a lower file
    const layers = Array.from({ length: 6 }, (_, i) => [
      { name: `l${i}`, content: `layer ${i}` },
      ...(i > 0 ? [{ name: `link${i}`, type: 'link' as const, linkname: 'l0' }] : []),
    ]);
    const img = await buildImage({ layers });
    const file = path.join(dir, 'many.tar');
    await tarDirectory(layout([{ img, refName: 'docker.io/library/many:1' }]), file);
    const [s] = await importOpened(store, await openArchive(file));
    expect(s.diffIds).toHaveLength(6);
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[5].diffId), 'l5'), 'utf8')).toBe('layer 5');
    // the link to a lower layer's file became a copy in this layer
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[5].diffId), 'link5'), 'utf8')).toBe('layer 0');
    expect(fs.readdirSync(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('refuses a file that is neither archive', async () => {
    const file = path.join(dir, 'junk.tar');
    fs.writeFileSync(file, 'not a tar at all'.repeat(100));
    await expect(openArchive(file)).rejects.toThrow(/junk.tar/);
    await expect(openArchive(path.join(dir, 'none.tar'))).rejects.toThrow(/no such file/);
  });
});

describe('broken images are refused and leave nothing behind', () => {
  const cases: [string, (d: string, img: BuiltImage) => void | Promise<void>, RegExp][] = [
    [
      'a layer blob whose bytes do not match its digest',
      (d, img) => {
        const f = path.join(d, 'blobs/sha256', img.layers[1].digest.slice(7));
        const b = fs.readFileSync(f);
        b[b.length - 5] ^= 0xff; // in the gzip trailer: the inflated bytes stay the same
        fs.writeFileSync(f, b);
      },
      /digest mismatch|crc|incorrect|corrupt|invalid/i,
    ],
    [
      'a missing layer blob',
      (d, img) => fs.rmSync(path.join(d, 'blobs/sha256', img.layers[1].digest.slice(7))),
      /blob sha256:[a-f0-9]{64} is missing/,
    ],
    [
      'a missing config blob',
      (d, img) => fs.rmSync(path.join(d, 'blobs/sha256', img.configDigest.slice(7))),
      /blob sha256:[a-f0-9]{64} is missing/,
    ],
    [
      'a manifest changed after the index named it',
      (d, img) => fs.appendFileSync(path.join(d, 'blobs/sha256', img.manifestDigest.slice(7)), ' '),
      /manifest sha256:[a-f0-9]{64}: size mismatch|digest mismatch/,
    ],
  ];
  for (const [name, corrupt, msg] of cases) {
    it(name, async () => {
      const img = await two();
      const d = layout([{ img, refName: 'x' }]);
      await corrupt(d, img);
      await expect(openLayoutDir(d).then((o) => importOpened(store, o))).rejects.toThrow(msg);
      expectEmptyStore();
    });
  }

  const built: [string, Parameters<typeof buildImage>[0], RegExp][] = [
    [
      'fewer diff_ids than layers',
      { layers: [[{ name: 'a' }], [{ name: 'b' }]], editConfig: (c) => (c.rootfs as { diff_ids: string[] }).diff_ids.pop() },
      /config lists 1 layer diff_ids but the manifest has 2 layers/,
    ],
    [
      'a diff_id that does not match the layer',
      { layers: [[{ name: 'a' }], [{ name: 'b' }]], editConfig: (c) => ((c.rootfs as { diff_ids: string[] }).diff_ids[1] = sha('other')) },
      /digest|mismatch/i,
    ],
    [
      'manifest schemaVersion 1',
      { layers: [[{ name: 'a' }]], editManifest: (m) => (m.schemaVersion = 1) },
      /schemaVersion 1 is not supported/,
    ],
    [
      'a config that is an artifact',
      {
        layers: [[{ name: 'a' }]],
        editManifest: (m) => ((m.config as { mediaType: string }).mediaType = 'application/vnd.cncf.helm.config.v1+json'),
      },
      /not a container image/,
    ],
    [
      'a layer that is no tar layer',
      { layers: [[{ name: 'a' }]], editManifest: (m) => ((m.layers as { mediaType: string }[])[0].mediaType = 'text/plain') },
      /"text\/plain" is not a container image layer/,
    ],
    [
      'a digest that is a path',
      { layers: [[{ name: 'a' }]], editManifest: (m) => ((m.layers as { digest: string }[])[0].digest = 'sha256:../../../etc/passwd') },
      /not a supported digest/,
    ],
    [
      'a layer size that lies',
      { layers: [[{ name: 'a' }]], editManifest: (m) => ((m.layers as { size: number }[])[0].size = 10) },
      /more data than the 10 bytes/,
    ],
  ];
  for (const [name, opts, msg] of built) {
    it(name, async () => {
      const img = await buildImage(opts);
      await expect(openLayoutDir(layout([{ img }])).then((o) => importOpened(store, o))).rejects.toThrow(msg);
      expectEmptyStore();
    });
  }

  it('a manifest that is not JSON', async () => {
    const img = await two();
    const d = layout([{ img }]);
    const bad = Buffer.from('{not json');
    fs.writeFileSync(path.join(d, 'blobs/sha256', sha(bad).slice(7)), bad);
    fs.writeFileSync(
      path.join(d, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha(bad), size: bad.length }],
      }),
    );
    await expect(openLayoutDir(d)).rejects.toThrow(/manifest.*not valid JSON/);
    expectEmptyStore();
  });

  it('a docker-archive that lacks a layer, and one cut short', async () => {
    const img = await buildImage({
      compress: 'none',
      layers: [[{ name: 'a', content: 'a'.repeat(5000) }], [{ name: 'b', content: 'b'.repeat(5000) }]],
    });
    const file = path.join(dir, 'drop.tar');
    await writeDockerArchive(file, [{ img, repoTags: ['drop:1'] }], 'legacy', { dropLayer: true });
    await expect(openArchive(file)).rejects.toThrow(/layer .*layer.tar is missing from the archive/);
    const whole = path.join(dir, 'whole.tar');
    await writeDockerArchive(whole, [{ img, repoTags: ['cut:1'] }]);
    const cut = path.join(dir, 'cut.tar');
    fs.writeFileSync(cut, fs.readFileSync(whole).subarray(0, 7000));
    await expect(openArchive(cut).then((o) => importOpened(store, o))).rejects.toThrow(
      /cut.tar.*(damaged or cut short|not a readable tar)/,
    );
    expectEmptyStore();
  });

  it.skipIf(lacks(isRoot))('a full disk: a message a person understands, and nothing half-written', async () => {
    const tiny = path.join(top, 'tiny');
    fs.mkdirSync(tiny, { recursive: true });
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tiny]).status).toBe(0);
    const s = new ImageStore({ root: path.join(tiny, 'store'), unpack: testUnpack });
    const big = await buildImage({
      layers: [[{ name: 'big', content: Array.from({ length: 40000 }, (_, i) => `${i * 7919}`).join(',') }]],
    });
    await expect(openLayoutDir(layout([{ img: big }])).then((o) => importOpened(s, o))).rejects.toThrow(
      /no space left on device while writing layer sha256:[a-f0-9]{64} into the image store .*tiny\/store/,
    );
    expectEmptyStore(s);
  });
});

describe('store operations', () => {
  it('tags, untags, removes and collects what no image uses', async () => {
    const a = await buildImage({ layers: [[{ name: 'base', content: 'base' }], [{ name: 'a', content: 'a' }]] });
    const b = await buildImage({ layers: [[{ name: 'base', content: 'base' }], [{ name: 'b', content: 'b' }]] });
    await importOpened(
      store,
      await openLayoutDir(
        layout([
          { img: a, refName: 'docker.io/library/a:1' },
          { img: b, refName: 'docker.io/library/b:1' },
        ]),
        { all: true },
      ),
    );
    expect(store.list()).toHaveLength(2);
    store.tag('a:1', 'localhost:5000/again:x');
    expect(store.resolve('localhost:5000/again:x')?.configDigest).toBe(a.configDigest);
    // a name moves: b takes it from a
    store.tag('b:1', 'localhost:5000/again:x');
    expect(store.resolve('localhost:5000/again:x')?.configDigest).toBe(b.configDigest);
    expect(store.remove('localhost:5000/again:x')).toEqual({ untagged: ['localhost:5000/again:x'], deleted: [] });
    expect(store.resolve('b:1')).toBeDefined();
    store.tag('a:1', 'a:2');
    expect(() => store.remove(a.configDigest.slice(7, 15))).toThrow(/has several names .*--force/);
    const r = store.remove('a:1');
    expect(r.untagged).toEqual(['docker.io/library/a:1']);
    const gone = store.remove('a:2');
    expect(gone.deleted).toEqual([a.configDigest]);
    // the shared base layer stays for b; a's own layer and blobs go
    expect(store.hasLayer(a.layers[0].diffId)).toBe(true);
    expect(store.hasLayer(a.layers[1].diffId)).toBe(false);
    expect(fs.existsSync(path.join(store.root, 'blobs/sha256', a.configDigest.slice(7)))).toBe(false);
    expect(() => store.remove('a:1')).toThrow(/image "a:1" is not in the image store/);
    store.remove('b:1');
    expectEmptyStore();
  });

  it('refuses to remove an image in use', async () => {
    const img = await two();
    const s = new ImageStore({ root: store.root, unpack: testUnpack });
    const [used] = await importOpened(s, await openLayoutDir(layout([{ img, refName: 'docker.io/library/used:1' }])));
    const dir = path.join(store.root, 'containers', 'web1');
    fs.mkdirSync(dir, { recursive: true });
    s.claim(used, dir, path.join(store.root, 'no-state'));
    expect(() => s.remove('used:1')).toThrow(
      /image docker.io\/library\/used:1 \([0-9a-f]{12}\) is in use by container web1: remove it first \(tcr rm -f web1\), or untag the image with rmi -f/,
    );
    expect(s.list()).toHaveLength(1);
    // -f untags; the layers stay while the container's record does, and go with the image once it is gone
    expect(s.remove('used:1', { force: true })).toEqual({ untagged: ['docker.io/library/used:1'], deleted: [] });
    expect(s.gc()).toEqual({ layers: 0, blobs: 0, tmp: 0 });
    expect(used.diffIds.every((d) => s.hasLayer(d))).toBe(true);
    expect(() => s.remove(used.configDigest)).toThrow(/has no names left and is in use by container web1/);
    fs.rmSync(path.dirname(dir), { recursive: true }); // tcr rm takes the container's directory
    expect(s.remove(used.configDigest).deleted).toEqual([used.configDigest]);
    expectEmptyStore();
  });

  it('a use pins its image while its state exists or it was made in this boot; a claim of a removed image fails', async () => {
    const img = await two();
    const [im] = await importOpened(store, await openLayoutDir(layout([{ img, refName: 'docker.io/library/pinned:1' }])));
    const use = (id: string, rec: object) => {
      fs.mkdirSync(path.join(store.root, 'containers', id), { recursive: true });
      fs.writeFileSync(
        path.join(store.root, 'containers', id, 'image.json'),
        JSON.stringify({ image: im.configDigest, layers: im.diffIds, ...rec }),
      );
    };
    const state = path.join(dir, 'state-of-old');
    fs.mkdirSync(state);
    use('old', { state, boot: 'an earlier boot' });
    expect(store.users(im.configDigest)).toEqual(['old']);
    fs.rmSync(state, { recursive: true }); // a reboot emptied the state root
    expect(store.users(im.configDigest)).toEqual([]);
    use('stale', { state: path.join(dir, 'no-such-state'), boot: 'an earlier boot' });
    expect(store.users(im.configDigest)).toEqual([]);
    expect(store.remove('pinned:1').deleted).toEqual([im.configDigest]);
    expect(im.diffIds.some((d) => store.hasLayer(d))).toBe(false); // stale uses pin no layer
    const late = path.join(store.root, 'containers', 'late');
    fs.mkdirSync(late);
    expect(() => store.claim(im, late, path.join(dir, 'late-state'))).toThrow(/was removed while the container was being made/);
    expect(fs.existsSync(path.join(late, 'image.json'))).toBe(false);
    fs.rmSync(path.join(store.root, 'containers'), { recursive: true });
    expectEmptyStore();
  });

  it('two imports of one image at once make one copy of each layer', async () => {
    const img = await two();
    const d = layout([{ img, refName: 'docker.io/library/same:1' }]);
    const other = new ImageStore({ root: store.root, unpack: testUnpack });
    const [x, y] = await Promise.all([importOpened(store, await openLayoutDir(d)), importOpened(other, await openLayoutDir(d))]);
    expect(x[0].configDigest).toBe(y[0].configDigest);
    expect(store.list()).toHaveLength(1);
    expect(fs.readdirSync(path.join(store.root, 'layers/sha256'))).toHaveLength(2);
    expect(fs.readdirSync(path.join(store.root, 'tmp'))).toEqual([]);
  });

  it('gc clears what a crashed import left in tmp/ and unreferenced layers', async () => {
    const img = await two();
    await importOpened(store, await openLayoutDir(layout([{ img, refName: 'docker.io/library/k:1' }])));
    fs.mkdirSync(path.join(store.root, 'tmp', 'layer-crashed', 'diff'), { recursive: true });
    fs.mkdirSync(path.join(store.root, 'layers/sha256', 'f'.repeat(64), 'diff'), { recursive: true });
    expect(store.gc()).toEqual({ layers: 1, blobs: 0, tmp: 1 });
    expect(store.resolve('k:1')).toBeDefined();
    expect(store.layerDirs(store.require('k:1'))).toHaveLength(2);
  });

  it('pullImage dispatches on the transport', async () => {
    const img = await two();
    const d = layout([{ img, refName: 'v3' }], 'disp');
    const [s] = await pullImage(store, `oci:${d}:v3`);
    expect(s.names).toEqual(['localhost/disp:v3']);
  });
});
