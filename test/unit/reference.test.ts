// Image references as docker reads them, the transports, and the search list.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  candidates,
  formatRef,
  normalizeName,
  parseImageRef,
  parseRegistryRef,
  searchRegistries,
  splitName,
} from '../../src/image/reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('parseRegistryRef', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', true],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', true],
    ['library/busybox', 'docker.io/library/busybox:latest', true],
    ['user/app:v1', 'docker.io/user/app:v1', true],
    ['docker.io/busybox', 'docker.io/library/busybox:latest', false],
    ['index.docker.io/library/busybox', 'docker.io/library/busybox:latest', false],
    ['quay.io/ns/name:tag', 'quay.io/ns/name:tag', false],
    ['localhost/app', 'localhost/app:latest', false],
    ['localhost:5000/a/b/c:1.0', 'localhost:5000/a/b/c:1.0', false],
    ['127.0.0.1:5000/test/img:1', '127.0.0.1:5000/test/img:1', false],
    ['[::1]:5000/img', '[::1]:5000/img:latest', false],
    [`busybox@${D}`, `docker.io/library/busybox@${D}`, true],
    [`host:5000/x:tag@${D}`, `host:5000/x:tag@${D}`, false],
    ['a__b/c-d.e_f:T_1.x-y', 'docker.io/a__b/c-d.e_f:T_1.x-y', true],
  ])('%s → %s', (input, want, short) => {
    const r = parseRegistryRef(input);
    expect(formatRef(r.ref)).toBe(want);
    expect(r.short).toBe(short);
  });

  it.each([
    ['', /empty/],
    ['Busybox', /lowercase/],
    ['busybox:', /not a valid tag/],
    ['busybox:-x', /not a valid tag/],
    ['a//b', /empty path component/],
    ['a/-b', /not a valid name component/],
    ['busybox@sha256:abc', /not a digest/],
    [`busybox@sha512:${'a'.repeat(128)}`, /only sha256/],
    [`busybox@sha256:${'A'.repeat(64)}`, /only sha256/],
    ['bad_host.:5000/x', /not a registry host/],
    ['x/' + 'a'.repeat(300), /longer than 255/],
  ])('refuses %j', (input, msg) => {
    expect(() => parseRegistryRef(input)).toThrow(msg);
    expect(() => parseRegistryRef(input)).toThrow(/invalid image reference/);
  });

  it('uses the given default registry for short names', () => {
    expect(formatRef(parseRegistryRef('app', 'registry.example:5000').ref)).toBe('registry.example:5000/app:latest');
  });
});

describe('parseImageRef transports', () => {
  it('reads each transport', () => {
    expect(parseImageRef('oci:/tmp/layout')).toEqual({ transport: 'oci', path: '/tmp/layout', tag: undefined });
    expect(parseImageRef('oci:/tmp/layout:v1')).toEqual({ transport: 'oci', path: '/tmp/layout', tag: 'v1' });
    expect(parseImageRef('oci-archive:img.tar:latest')).toEqual({ transport: 'oci-archive', path: 'img.tar', tag: 'latest' });
    const d = parseImageRef('docker-archive:/x/save.tar:busybox:1');
    expect(d.transport).toBe('docker-archive');
    expect(d.transport === 'docker-archive' && d.ref && formatRef(d.ref)).toBe('docker.io/library/busybox:1');
    const e = parseImageRef('docker://quay.io/a/b:c');
    expect(e.transport === 'docker' && formatRef(e.ref)).toBe('quay.io/a/b:c');
    const f = parseImageRef('docker://busybox');
    expect(f.transport === 'docker' && f.short).toBe(true);
  });

  it('refuses malformed transports', () => {
    expect(() => parseImageRef('oci:')).toThrow(/needs a path/);
    expect(() => parseImageRef('docker:busybox')).toThrow(/docker:\/\/NAME/);
    expect(() => parseImageRef('oci:/x:')).toThrow(/nothing after/);
    expect(() => parseImageRef('docker-archive:/x:Bad')).toThrow(/lowercase/);
  });
});

describe('search registries', () => {
  it('defaults to docker.io', () => {
    expect(searchRegistries({}, '/nonexistent')).toEqual(['docker.io']);
  });
  it('reads TCR_REGISTRIES before the file', () => {
    expect(searchRegistries({ TCR_REGISTRIES: 'quay.io, 127.0.0.1:5000 docker.io' }, '/nonexistent')).toEqual([
      'quay.io',
      '127.0.0.1:5000',
      'docker.io',
    ]);
    expect(() => searchRegistries({ TCR_REGISTRIES: 'not a/host' }, '/x')).toThrow(/TCR_REGISTRIES/);
  });
  it('reads the conf file with comments', () => {
    const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-reg-')), 'registries.conf');
    fs.writeFileSync(f, '# mirrors first\nmirror.example:5000\n\ndocker.io # hub\n');
    expect(searchRegistries({}, f)).toEqual(['mirror.example:5000', 'docker.io']);
    fs.rmSync(path.dirname(f), { recursive: true });
  });
  it('completes short names on each registry, with library/ only on docker.io', () => {
    const { ref, short } = parseRegistryRef('busybox');
    expect(candidates(ref, short, ['quay.io', 'docker.io']).map(formatRef)).toEqual([
      'quay.io/busybox:latest',
      'docker.io/library/busybox:latest',
    ]);
    const full = parseRegistryRef('quay.io/x/y');
    expect(candidates(full.ref, full.short, ['docker.io']).map(formatRef)).toEqual(['quay.io/x/y:latest']);
  });
});

describe('names', () => {
  it('normalizes and splits', () => {
    expect(normalizeName('busybox', 'docker.io')).toBe('docker.io/library/busybox:latest');
    expect(normalizeName('localhost:5000/a:b')).toBe('localhost:5000/a:b');
    expect(() => normalizeName(`busybox@${D}`, 'docker.io')).toThrow(/needs a tag/);
    expect(splitName('localhost:5000/a/b:v1')).toEqual({ repository: 'localhost:5000/a/b', tag: 'v1' });
  });
});
