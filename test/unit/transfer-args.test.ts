// How tcr cp reads its arguments (docker's rule for NAME:PATH and host
// paths) and how login names a registry in auth.json.
import { describe, expect, it } from 'vitest';
import { parseEndpoint } from '../../src/transfer/cp.js';
import { registryKey } from '../../src/transfer/login.js';

describe('tcr cp endpoints', () => {
  it('NAME:PATH is a container path, - a stream, anything starting with / or . a host path', () => {
    expect(parseEndpoint('web:/etc/hosts')).toEqual({ kind: 'container', name: 'web', path: '/etc/hosts' });
    expect(parseEndpoint('web:')).toEqual({ kind: 'container', name: 'web', path: '/' });
    expect(parseEndpoint('-')).toEqual({ kind: 'stream' });
    expect(parseEndpoint('./a:b')).toEqual({ kind: 'host', path: './a:b' });
    expect(parseEndpoint('/tmp/a:b')).toEqual({ kind: 'host', path: '/tmp/a:b' });
    expect(parseEndpoint('file.txt')).toEqual({ kind: 'host', path: 'file.txt' });
    expect(parseEndpoint(':x')).toEqual({ kind: 'host', path: ':x' });
  });
});

describe('registry keys of auth.json', () => {
  it('host[:port] without scheme or path; docker hub aliases are docker.io', () => {
    expect(registryKey('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(registryKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(registryKey('Quay.IO')).toBe('quay.io');
    expect(() => registryKey('https://')).toThrow(/not a registry host/);
  });
});
