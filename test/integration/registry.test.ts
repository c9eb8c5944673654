// Pulls from a real registry (Debian's docker-registry on 127.0.0.1, images
// pushed by skopeo): OCI and docker v2 schema 2 manifests, by tag and by
// digest, a multi-platform index, token auth with credentials from an
// auth.json, retries through a flaky proxy, and a corrupted blob refused
// with nothing left in the store.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullImage } from '../../src/image/pull.js';
import { RegistryClient } from '../../src/image/registry.js';
import { ImageStore } from '../../src/image/store.js';
import { MEDIA } from '../../src/image/types.js';
import { buildImage, buildIndex, listTree, testUnpack, writeLayout, type BuiltImage } from '../image-fixtures.js';
import { TestRegistry, ensureRegistryTools, flakyProxy, freePort, type TokenAuth } from './registry-lib.js';
import { spawnSync } from 'node:child_process';
import { REPO, TCR, isRoot, lacks } from '../helpers.js';

const missing = ensureRegistryTools();
if (missing) console.warn(`registry tests skipped: ${missing}`);

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-registry-'));
const reg = new TestRegistry(path.join(top, 'plain'));
const auth: TokenAuth = { user: 'tcr', password: 's3cret', requests: [] };
const secured = new TestRegistry(path.join(top, 'token'), auth);
let img: BuiltImage;
let arm: BuiltImage;
let layout: string;
let n = 0;

function freshStore(): ImageStore {
  return new ImageStore({ root: path.join(top, `store${n++}`), unpack: testUnpack });
}

function expectEmpty(store: ImageStore): void {
  expect(store.list()).toEqual([]);
  expect(listTree(store.root).filter((f) => /^(layers|blobs)\/sha256\/.|^tmp\/./.test(f))).toEqual([]);
}

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  HOME: path.join(top, 'nohome'),
  XDG_RUNTIME_DIR: path.join(top, 'norun'),
  ...extra,
});
const quick = { attempts: 4, backoff: 10 };

// at file level, so a skipped run cleans up too
afterAll(async () => {
  await reg.stop();
  await secured.stop();
  fs.rmSync(top, { recursive: true, force: true });
});

describe.skipIf(lacks(!missing))('pull from a real registry', () => {
  beforeAll(async () => {
    img = await buildImage({
      layers: [
        [
          { name: 'etc/', type: 'directory' },
          { name: 'etc/hostname', content: 'pulled\n' },
        ],
        [
          { name: 'bin/', type: 'directory' },
          { name: 'bin/tool', content: 'x'.repeat(50_000) },
        ],
      ],
    });
    arm = await buildImage({ layers: [[{ name: 'arm', content: 'arm64 only' }]], architecture: 'arm64' });
    layout = path.join(top, 'layout');
    writeLayout(layout, [
      { img, refName: 'one' },
      {
        index: buildIndex([
          { img: arm, architecture: 'arm64', variant: 'v8' },
          { img, architecture: 'amd64' },
        ]),
        images: [img, arm],
        refName: 'multi',
      },
      { index: buildIndex([{ img: arm, architecture: 'arm64', variant: 'v8' }]), images: [arm], refName: 'armonly' },
    ]);
    await Promise.all([reg.start(), secured.start()]);
    await reg.push(layout, 'one', 'test/img:1');
    await reg.push(layout, 'one', 'test/docker:1', ['--format', 'v2s2']);
    await reg.push(layout, 'multi', 'test/multi:1', ['--all']);
    await reg.push(layout, 'armonly', 'test/armonly:1', ['--all']);
    await secured.push(layout, 'one', 'private/img:1');
  }, 180_000);

  it('pulls an OCI image by tag, layers verified and unpacked', async () => {
    const store = freshStore();
    const [s] = await pullImage(store, `${reg.host}/test/img:1`, { registry: { env: env() } });
    expect(s.configDigest).toBe(img.configDigest);
    expect(s.names).toEqual([`${reg.host}/test/img:1`]);
    expect(s.repoDigests?.[0]).toMatch(new RegExp(`^${reg.host}/test/img@sha256:[a-f0-9]{64}$`));
    expect(fs.readFileSync(path.join(store.layerDir(img.layers[0].diffId), 'etc/hostname'), 'utf8')).toBe('pulled\n');
    expect(fs.statSync(path.join(store.layerDir(img.layers[1].diffId), 'bin/tool')).size).toBe(50_000);
    expect(store.manifest(s).mediaType).toBe(MEDIA.ociManifest);
    // by digest: found in the store by that digest afterwards
    const digest = s.repoDigests![0].split('@')[1];
    const store2 = freshStore();
    const [byDigest] = await pullImage(store2, `${reg.host}/test/img@${digest}`, { registry: { env: env() } });
    expect(byDigest.names).toEqual([]);
    expect(store2.resolve(`${reg.host}/test/img@${digest}`)?.configDigest).toBe(img.configDigest);
  });

  it('pulls a docker v2 schema 2 image', async () => {
    const store = freshStore();
    const [s] = await pullImage(store, `docker://${reg.host}/test/docker:1`, { registry: { env: env() } });
    expect(store.manifest(s).mediaType).toBe(MEDIA.dockerManifest);
    expect(s.diffIds).toEqual(img.layers.map((l) => l.diffId));
  });

  it('takes linux/amd64 from a manifest list, or the platform asked for', async () => {
    const store = freshStore();
    const [s] = await pullImage(store, `${reg.host}/test/multi:1`, { registry: { env: env() } });
    expect(s.configDigest).toBe(img.configDigest);
    const [a] = await pullImage(store, `${reg.host}/test/multi:1`, {
      registry: { env: env() },
      platform: { os: 'linux', architecture: 'arm64' },
    });
    expect(a.configDigest).toBe(arm.configDigest);
    await expect(pullImage(freshStore(), `${reg.host}/test/armonly:1`, { registry: { env: env() } })).rejects.toThrow(
      /no image for linux\/amd64; the index has: linux\/arm64\/v8/,
    );
  });

  it('says clearly what is not there', async () => {
    const store = freshStore();
    await expect(pullImage(store, `${reg.host}/test/nothere:1`, { registry: { env: env() } })).rejects.toThrow(
      new RegExp(`manifest ${reg.host}/test/nothere:1: not found in registry ${reg.host}`),
    );
    await expect(pullImage(store, `${reg.host}/test/img:nope`, { registry: { env: env() } })).rejects.toThrow(/not found/);
    const closed = await freePort();
    await expect(pullImage(store, `127.0.0.1:${closed}/x:1`, { registry: { env: env(), attempts: 2, backoff: 10 } })).rejects.toThrow(
      `cannot reach registry 127.0.0.1:${closed} (http://127.0.0.1:${closed}): connection refused`,
    );
    expectEmpty(store);
  });

  it('retries a 503 and a download cut half-way', async () => {
    const proxy = await flakyProxy(reg.host);
    try {
      const store = freshStore();
      const [s] = await pullImage(store, `${proxy.host}/test/img:1`, { registry: { env: env(), ...quick }, ...quick });
      expect(s.configDigest).toBe(img.configDigest);
      const blobHits = [...proxy.hits].filter(([p]) => p.includes('/blobs/'));
      expect(blobHits.length).toBe(3);
      expect(blobHits.every(([, c]) => c >= 2)).toBe(true);
      expect(blobHits.some(([, c]) => c >= 3)).toBe(true); // the one cut short was fetched again
    } finally {
      await proxy.close();
    }
  });

  it('refuses a blob the registry serves corrupted, and keeps nothing', async () => {
    await reg.push(layout, 'one', 'test/bad:1');
    const store = freshStore();
    // corrupt the gzip header's mtime: the layer still inflates to the same tar, only its digest is wrong
    const file = reg.blobFile(img.layers[1].digest);
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    bad[5] ^= 0x55;
    fs.writeFileSync(file, bad);
    try {
      await expect(pullImage(store, `${reg.host}/test/bad:1`, { registry: { env: env() } })).rejects.toThrow(
        new RegExp(`layer ${img.layers[1].digest}: digest mismatch`),
      );
      expectEmpty(store);
    } finally {
      fs.writeFileSync(file, good);
    }
  });

  it('refuses a manifest that does not match the digest it was asked by', async () => {
    await reg.push(layout, 'one', 'test/badm:1');
    const { digest, bytes } = await new RegistryClient(reg.host, { env: env() }).getManifest('test/badm', '1');
    const file = reg.blobFile(digest);
    fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, -1), Buffer.from(' }')]));
    const store = freshStore();
    try {
      await expect(pullImage(store, `${reg.host}/test/badm@${digest}`, { registry: { env: env() } })).rejects.toThrow(
        new RegExp(`manifest (of )?${reg.host}/test/badm@${digest}: (digest|size) mismatch`),
      );
      // by tag, the registry's Docker-Content-Digest header no longer matches what it sends
      await expect(pullImage(store, `${reg.host}/test/badm:1`, { registry: { env: env() } })).rejects.toThrow(/digest mismatch/);
      expectEmpty(store);
    } finally {
      fs.writeFileSync(file, bytes);
    }
  });

  it('authenticates with a bearer token, credentials from auth.json', async () => {
    const authFile = path.join(top, 'auth.json');
    fs.writeFileSync(
      authFile,
      JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } } }),
    );
    const store = freshStore();
    const [s] = await pullImage(store, `${secured.host}/private/img:1`, { registry: { env: env({ REGISTRY_AUTH_FILE: authFile }) } });
    expect(s.configDigest).toBe(img.configDigest);
    expect(auth.requests.some((q) => q.includes('scope=repository%3Aprivate%2Fimg%3Apull'))).toBe(true);
    // the containers auth file under XDG_RUNTIME_DIR is found too
    const run = path.join(top, 'xdg');
    fs.mkdirSync(path.join(run, 'containers'), { recursive: true });
    fs.copyFileSync(authFile, path.join(run, 'containers', 'auth.json'));
    const c = new RegistryClient(secured.host, { env: env({ XDG_RUNTIME_DIR: run }) });
    expect((await c.getManifest('private/img', '1')).digest).toMatch(/^sha256:/);
  });

  it('says why when credentials are missing or wrong', async () => {
    const store = freshStore();
    await expect(pullImage(store, `${secured.host}/private/img:1`, { registry: { env: env() } })).rejects.toThrow(
      new RegExp(`registry ${secured.host}: access needs a login; no credentials found`),
    );
    const wrong = path.join(top, 'wrong.json');
    fs.writeFileSync(wrong, JSON.stringify({ auths: { [secured.host]: { auth: Buffer.from(`${auth.user}:nope`).toString('base64') } } }));
    await expect(
      pullImage(store, `${secured.host}/private/img:1`, { registry: { env: env({ REGISTRY_AUTH_FILE: wrong }) } }),
    ).rejects.toThrow(/login refused for user "tcr" \(credentials from .*wrong.json\)/);
    expectEmpty(store);
  });
});

// bin/tcr starts `run`'s node without NODE_EXTRA_CA_CERTS (it parses the CA
// file at every start); a run that must pull does it in a child `tcr pull`,
// whose node loads the file. A CA file that does not exist makes each node
// that tries to load it warn once, so the warnings count the nodes that did.
describe.skipIf(lacks(!missing && isRoot))('NODE_EXTRA_CA_CERTS and the commands that pull', () => {
  const store = path.join(top, 'cli-store');
  const stateRoot = path.join(top, 'cli-state');
  const warning = /Warning: Ignoring extra certs from `\/nonexistent-ca.pem`/g;
  const cli = (args: string[]) => {
    const r = spawnSync(TCR, ['--root', stateRoot, '--store', store, ...args], {
      encoding: 'utf8',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: '/nonexistent-ca.pem' },
      timeout: 120_000,
    });
    return { ...r, warnings: (r.stderr.match(warning) ?? []).length };
  };

  beforeAll(async () => {
    if (!reg.port) await reg.start();
    await reg.push(path.join(REPO, 'demo', 'busybox-oci'), 'latest', 'demo/busybox:1');
  }, 120_000);

  it('a run that pulls loads the CA file in its child `tcr pull` only; a run of a present image never', () => {
    const first = cli(['run', '--rm', `${reg.host}/demo/busybox:1`, 'echo', 'pulled and ran']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe('pulled and ran\n');
    expect(first.warnings).toBe(1);
    const again = cli(['run', '--rm', `${reg.host}/demo/busybox:1`, 'true']);
    expect([again.status, again.warnings]).toEqual([0, 0]);
    // `pull` itself keeps the variable: its own node loads the file
    const pull = cli(['pull', '-q', `${reg.host}/demo/busybox:1`]);
    expect([pull.status, pull.warnings]).toEqual([0, 1]);
    // and a lifecycle command's node does not
    const list = cli(['list']);
    expect([list.status, list.warnings]).toEqual([0, 0]);
  });

  it("a failed pull in the child is the run's error, with nothing left behind", () => {
    const r = cli(['run', '--rm', `${reg.host}/demo/absent:1`, 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/absent/);
    expect(r.stderr).toMatch(/`tcr pull` exited with status/);
    expect(fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot).filter((f) => !f.startsWith('.')) : []).toEqual([]);
  });
});
