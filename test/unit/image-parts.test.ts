// The small parts of the image code that need no root and no network:
// digest checks while streaming, platform choice, WWW-Authenticate parsing,
// credential files, layer media types, and the `tcr images` table.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { imagesTable, timeAgo } from '../../src/cli/image-commands.js';
import { table } from '../../src/cli/table.js';
import { checkDigest, sha256, verifyBuffer } from '../../src/image/digest.js';
import { DigestVerifier } from '../../src/image/digest-verifier.js';
import { layerCompression } from '../../src/image/import.js';
import { selectPlatform } from '../../src/image/platform.js';
import { humanSize } from '../../src/image/progress.js';
import { findCredentials, parseChallenges } from '../../src/image/registry-auth.js';
import { isInsecure } from '../../src/image/registry.js';
import type { Descriptor } from '../../src/image/types.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-image-unit-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function through(data: Buffer, desc: { digest: string; size?: number }): Promise<void> {
  const v = new DigestVerifier(desc, 'layer x');
  await pipeline(Readable.from([data.subarray(0, 3), data.subarray(3)]), v, new Writable({ write: (_c, _e, cb) => cb() }));
  expect(v.verified).toBe(true);
}

describe('digests', () => {
  const data = Buffer.from('hello, layers');
  it('passes matching data and refuses the rest', async () => {
    await through(data, { digest: sha256(data), size: data.length });
    await expect(through(data, { digest: sha256('other') })).rejects.toThrow(/layer x: digest mismatch: expected sha256:.*got sha256:/);
    await expect(through(data, { digest: sha256(data), size: 5 })).rejects.toThrow(/more data than the 5 bytes/);
    await expect(through(data, { digest: sha256(data), size: 100 })).rejects.toThrow(/truncated: got 13 of the 100 bytes/);
  });
  it('checks buffers and digest syntax', () => {
    expect(() => verifyBuffer(data, { digest: sha256(data), size: 1 }, 'config')).toThrow(/config: size mismatch/);
    expect(() => verifyBuffer(data, { digest: sha256('x') }, 'config')).toThrow(/config: digest mismatch/);
    expect(() => checkDigest('sha256:../../etc/passwd', 'blob')).toThrow(/not a supported digest/);
    expect(() => checkDigest('sha512:' + 'a'.repeat(128), 'blob')).toThrow(/sha256/);
  });
});

describe('platforms', () => {
  const d = (architecture: string, variant?: string, os = 'linux'): Descriptor => ({
    mediaType: 'm',
    digest: `sha256:${architecture}${variant ?? ''}`,
    size: 1,
    platform: { os, architecture, variant },
  });
  const index = (...m: Descriptor[]) => ({ schemaVersion: 2 as const, manifests: m });
  it("takes this machine's entry", () => {
    expect(
      selectPlatform(index(d('arm64', 'v8'), d('amd64'), d('unknown', undefined, 'unknown')), { os: 'linux', architecture: 'amd64' }, 'x')
        .digest,
    ).toBe('sha256:amd64');
    expect(selectPlatform(index(d('arm', 'v6'), d('arm', 'v7')), { os: 'linux', architecture: 'arm', variant: 'v7' }, 'x').digest).toBe(
      'sha256:armv7',
    );
    expect(
      selectPlatform(index({ mediaType: 'm', digest: 'sha256:only', size: 1 }), { os: 'linux', architecture: 'amd64' }, 'x').digest,
    ).toBe('sha256:only');
  });
  it('lists what there is when nothing fits', () => {
    expect(() => selectPlatform(index(d('arm64', 'v8'), d('s390x')), { os: 'linux', architecture: 'amd64' }, 'img')).toThrow(
      'img: no image for linux/amd64; the index has: linux/arm64/v8, linux/s390x',
    );
  });
});

describe('registry auth', () => {
  it('parses WWW-Authenticate challenges', () => {
    expect(
      parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/busybox:pull' },
      },
    ]);
    expect(parseChallenges('Basic realm="basic-realm"')).toEqual([{ scheme: 'basic', params: { realm: 'basic-realm' } }]);
    expect(parseChallenges('Bearer realm=http://x/t, error="insufficient_scope", Basic realm="a \\"q\\""')).toEqual([
      { scheme: 'bearer', params: { realm: 'http://x/t', error: 'insufficient_scope' } },
      { scheme: 'basic', params: { realm: 'a "q"' } },
    ]);
  });

  it('finds credentials in auth files, most specific key first', () => {
    const podman = path.join(tmp, 'run', 'containers', 'auth.json');
    fs.mkdirSync(path.dirname(podman), { recursive: true });
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    fs.writeFileSync(
      podman,
      JSON.stringify({
        auths: { 'reg.example:5000': { auth: b64('alice:pw:with:colons') }, 'reg.example:5000/team': { auth: b64('team:tpw') } },
      }),
    );
    const home = path.join(tmp, 'home');
    fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
    fs.writeFileSync(
      path.join(home, '.docker', 'config.json'),
      JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: b64('bob:hub') } } }),
    );
    const env = { XDG_RUNTIME_DIR: path.join(tmp, 'run'), HOME: home };
    expect(findCredentials('reg.example:5000', 'other/app', env)).toMatchObject({
      username: 'alice',
      password: 'pw:with:colons',
      file: podman,
    });
    expect(findCredentials('reg.example:5000', 'team/app', env)).toMatchObject({ username: 'team', password: 'tpw' });
    expect(findCredentials('docker.io', 'library/busybox', env)).toMatchObject({ username: 'bob', password: 'hub' });
    expect(findCredentials('quay.io', 'x/y', env)).toBeUndefined();
    fs.writeFileSync(path.join(tmp, 'bad.json'), '{');
    expect(() => findCredentials('quay.io', 'x', { REGISTRY_AUTH_FILE: path.join(tmp, 'bad.json'), HOME: home })).toThrow(
      /credentials file .*bad.json/,
    );
  });

  it('allows plain http only for localhost and listed registries', () => {
    expect(isInsecure('127.0.0.1:5000', {})).toBe(true);
    expect(isInsecure('localhost', {})).toBe(true);
    expect(isInsecure('[::1]:5000', {})).toBe(true);
    expect(isInsecure('reg.lan:5000', {})).toBe(false);
    expect(isInsecure('reg.lan:5000', { TCR_INSECURE_REGISTRIES: 'other, reg.lan:5000' })).toBe(true);
    expect(isInsecure('reg.lan:5000', { TCR_INSECURE_REGISTRIES: 'reg.lan' })).toBe(true);
  });
});

describe('layer media types', () => {
  it.each([
    ['application/vnd.oci.image.layer.v1.tar', 'none'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.oci.image.layer.v1.tar+zstd', 'zstd'],
    ['application/vnd.oci.image.layer.nondistributable.v1.tar+gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.foreign.diff.tar.gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar', 'none'],
  ])('%s is %s', (mt, c) => expect(layerCompression(mt, 'l')).toBe(c));
  it('refuses what is no layer', () => {
    expect(() => layerCompression('application/vnd.oci.image.layer.v1.tar+gzip+encrypted', 'l')).toThrow(/encrypted/);
    expect(() => layerCompression('application/vnd.cncf.helm.chart.content.v1.tar+json', 'l')).toThrow(/not a container image layer/);
  });
});

describe('tcr images output', () => {
  it('formats sizes, ages and columns like docker', async () => {
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(4_261_000)).toBe('4.26MB');
    expect(humanSize(77_800_000)).toBe('77.8MB');
    const now = Date.parse('2024-02-01T00:00:00Z');
    expect(timeAgo('2024-01-31T23:59:30Z', now)).toBe('30 seconds ago');
    expect(timeAgo('2024-01-31T22:00:00Z', now)).toBe('2 hours ago');
    expect(timeAgo('2024-01-15T00:00:00Z', now)).toBe('2 weeks ago');
    expect(timeAgo(undefined, now)).toBe('N/A');
    expect(
      table([
        ['A', 'BB'],
        ['ccc', 'd'],
      ]),
    ).toBe('A     BB\nccc   d\n');
    // runc's list: tabwriter's minimum width 12; an empty last cell leaves no trailing spaces
    expect(
      table(
        [
          ['ID', 'PID'],
          ['a', ''],
        ],
        12,
      ),
    ).toBe('ID          PID\na\n');
    const text = await imagesTable([
      {
        manifestDigest: 'sha256:m',
        configDigest: 'sha256:' + 'b'.repeat(64),
        names: ['docker.io/library/busybox:1', 'localhost:5000/x:y'],
        diffIds: [],
        size: 4_261_000,
        created: '2000-01-01T00:00:00Z',
      },
      { manifestDigest: 'sha256:n', configDigest: 'sha256:' + 'c'.repeat(64), names: [], diffIds: [], size: 10, created: undefined },
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    expect(lines[1]).toMatch(/^docker\.io\/library\/busybox\s+1\s+bbbbbbbbbbbb\s+\d+ years ago\s+4\.26MB$/);
    expect(lines[2]).toMatch(/^localhost:5000\/x\s+y\s+bbbbbbbbbbbb/);
    expect(lines[3]).toMatch(/^<none>\s+<none>\s+cccccccccccc\s+N\/A\s+10B$/);
  });
});
