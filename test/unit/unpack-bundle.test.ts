// tcr unpack's parts that need no root: the bundle's host name, the target
// directory's checks and the staged rename, and unpackImage of an OCI layout
// into a bundle (files only: no owners, devices or whiteout devices), with
// the failures that must leave neither DIR nor its stage behind.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ImageStore } from '../../src/image/store.js';
import { commitStage, makeStage, targetState } from '../../src/run/stage-dir.js';
import { bundleHostname, unpackImage } from '../../src/run/unpack-image.js';
import type { Spec } from '../../src/spec/types.js';
import { buildImage, listTree, writeLayout } from '../image-fixtures.js';

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-unpack-bundle-'));
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = path.join(scratch, `t${n++}`);
  fs.mkdirSync(d);
  return d;
};

describe('bundleHostname', () => {
  it('is the directory name, made a valid host name', () => {
    expect(bundleHostname('/x/my-bundle')).toBe('my-bundle');
    expect(bundleHostname('out/web_1.v2/')).toBe('web-1-v2');
    expect(bundleHostname(`/x/${'a'.repeat(70)}`)).toBe('a'.repeat(63));
    expect(bundleHostname('/x/___')).toBe('tcr');
  });
});

describe('the target directory', () => {
  it('may be missing or an empty directory; anything else is refused, naming it', () => {
    const d = fresh();
    expect(targetState('new', path.join(d, 'new'))).toBeUndefined();
    fs.mkdirSync(path.join(d, 'empty'));
    expect(targetState('empty', path.join(d, 'empty'))?.isDirectory()).toBe(true);
    fs.mkdirSync(path.join(d, 'full'));
    fs.writeFileSync(path.join(d, 'full', 'f'), '');
    expect(() => targetState('full', path.join(d, 'full'))).toThrow('full exists and is not empty: give a new or empty directory');
    fs.writeFileSync(path.join(d, 'file'), '');
    expect(() => targetState('file', path.join(d, 'file'))).toThrow('file exists and is not a directory');
    fs.symlinkSync(path.join(d, 'empty'), path.join(d, 'link'));
    expect(() => targetState('link', path.join(d, 'link'))).toThrow('link exists and is not a directory (it is a symlink)');
  });

  it('is built in a hidden sibling that rename puts in place; an empty directory there keeps its mode', () => {
    const d = fresh();
    const target = path.join(d, 'b');
    const stage = makeStage('b', target);
    expect(path.dirname(stage)).toBe(d);
    expect(path.basename(stage)).toMatch(/^\.b\.tcr-unpack-/);
    expect(fs.statSync(stage).mode & 0o777).toBe(0o700);
    fs.writeFileSync(path.join(stage, 'config.json'), '{}');
    commitStage(stage, target, 'b', undefined);
    expect(fs.readdirSync(d)).toEqual(['b']);
    expect(fs.statSync(target).mode & 0o777).toBe(0o700);

    const empty = path.join(d, 'e');
    fs.mkdirSync(empty);
    fs.chmodSync(empty, 0o751);
    const existing = targetState('e', empty);
    const stage2 = makeStage('e', empty);
    commitStage(stage2, empty, 'e', existing);
    expect(fs.statSync(empty).mode & 0o777).toBe(0o751);
  });

  it('is not overwritten when something fills it meanwhile', () => {
    const d = fresh();
    const target = path.join(d, 'b');
    fs.mkdirSync(target);
    const existing = targetState('b', target);
    const stage = makeStage('b', target);
    fs.writeFileSync(path.join(target, 'theirs'), 'x');
    expect(() => commitStage(stage, target, 'b', existing)).toThrow(
      'b is not empty any more: something wrote into it while the image was unpacked',
    );
    expect(fs.readdirSync(target)).toEqual(['theirs']);
  });

  it('needs its parent to exist', () => {
    const d = fresh();
    expect(() => makeStage('x/y', path.join(d, 'x', 'y'))).toThrow(`x/y: its parent directory ${path.join(d, 'x')} does not exist`);
  });
});

describe('unpackImage of an OCI layout', () => {
  const store = () => new ImageStore({ root: path.join(scratch, 'store') });
  afterEach(() => {
    // a layout never goes through the image store
    expect(fs.existsSync(path.join(scratch, 'store'))).toBe(false);
  });

  it('writes config.json from the image config and rootfs from its layers', async () => {
    const d = fresh();
    const img = await buildImage({
      layers: [
        [
          { name: 'etc/passwd', content: 'root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n' },
          { name: 'a', content: '1' },
        ],
        [{ name: 'b', content: '2' }, { name: '.wh.a' }],
      ],
      editConfig: (c) =>
        Object.assign(c.config as object, { User: 'app', WorkingDir: '/srv', Entrypoint: ['/bin/app'], Cmd: ['--serve'], Env: ['A=1'] }),
    });
    writeLayout(path.join(d, 'layout'), [{ img }]);
    const out = path.join(d, 'bundle');
    await unpackImage(store(), `oci:${path.join(d, 'layout')}`, out);
    expect(fs.readdirSync(d).sort()).toEqual(['bundle', 'layout']);
    const spec = JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')) as Spec;
    expect(spec.root).toEqual({ path: 'rootfs', readonly: false });
    expect(spec.hostname).toBe('bundle');
    expect(spec.process).toMatchObject({
      args: ['/bin/app', '--serve'],
      cwd: '/srv',
      user: { uid: 1000, gid: 1001 },
      env: ['A=1', 'HOSTNAME=bundle', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
    });
    expect(listTree(path.join(out, 'rootfs'))).toEqual(['b', 'etc', 'etc/passwd']);
  });

  it('takes an image without Entrypoint or Cmd, with empty process.args to fill in', async () => {
    const d = fresh();
    writeLayout(path.join(d, 'layout'), [
      { img: await buildImage({ layers: [[{ name: 'f', content: 'x' }]], editConfig: (c) => delete (c.config as { Cmd?: unknown }).Cmd }) },
    ]);
    await unpackImage(store(), `oci:${path.join(d, 'layout')}`, path.join(d, 'bundle'));
    expect((JSON.parse(fs.readFileSync(path.join(d, 'bundle', 'config.json'), 'utf8')) as Spec).process!.args).toEqual([]);
  });

  it('leaves no DIR and no stage when the image is bad, and names the image, DIR and the reason', async () => {
    const d = fresh();
    writeLayout(path.join(d, 'layout'), [
      {
        img: await buildImage({
          layers: [[{ name: 'f', content: 'x' }]],
          editConfig: (c) => ((c.config as { User?: string }).User = 'nobody'),
        }),
      },
    ]);
    const dir = path.join(d, 'bundle');
    await expect(unpackImage(store(), `oci:${path.join(d, 'layout')}`, dir)).rejects.toThrow(
      `unpacking oci:${path.join(d, 'layout')} into ${dir}: user "nobody": no such user in the image's /etc/passwd`,
    );
    await expect(unpackImage(store(), `oci:${path.join(d, 'missing')}`, dir)).rejects.toThrow(/OCI layout .*missing: no such directory/);
    expect(fs.readdirSync(d)).toEqual(['layout']);
  });
});
