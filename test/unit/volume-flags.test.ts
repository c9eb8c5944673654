// -v, --mount and --tmpfs read as docker reads them (src/volumes/mount-flags.ts),
// the spec mounts they become (src/volumes/attach.ts), and --label.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkVolumeName, parseMountFlag, parseMountFlags, parseTmpfsFlag, parseVolumeFlag } from '../../src/volumes/mount-flags.js';
import { nameVolumes, specMounts } from '../../src/volumes/attach.js';
import { VolumeStore } from '../../src/volumes/store.js';
import { parseLabels } from '../../src/cli/volume-commands.js';

const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-vflags-'));
fs.mkdirSync(path.join(cwd, 'dir'));
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }));

describe('-v', () => {
  it('NAME:/path is a named volume, /path alone an anonymous one', () => {
    expect(parseVolumeFlag('data:/var/lib/x', cwd)).toMatchObject({ type: 'volume', name: 'data', target: '/var/lib/x', readonly: false });
    expect(parseVolumeFlag('data:/x/:ro,nocopy', cwd)).toMatchObject({
      type: 'volume',
      name: 'data',
      target: '/x',
      readonly: true,
      nocopy: true,
    });
    expect(parseVolumeFlag('/cache', cwd)).toMatchObject({ type: 'volume', name: undefined, target: '/cache' });
  });

  it('an absolute path, or one starting with ./ or ../, is a bind, relative to the working directory', () => {
    expect(parseVolumeFlag(`${cwd}/dir:/x:ro`, cwd)).toMatchObject({
      type: 'bind',
      source: `${cwd}/dir`,
      readonly: true,
      propagation: 'rprivate',
    });
    expect(parseVolumeFlag('./dir:/x', cwd)).toMatchObject({ type: 'bind', source: path.join(cwd, 'dir') });
    expect(parseVolumeFlag(`../${path.basename(cwd)}/dir:/x:rshared`, cwd)).toMatchObject({
      type: 'bind',
      source: path.join(cwd, 'dir'),
      propagation: 'rshared',
    });
    expect(parseVolumeFlag('.:/x', cwd)).toMatchObject({ type: 'bind', source: cwd });
  });

  it('refuses, naming the flag: a missing host path, a bad name, a relative target, unknown or misplaced options', () => {
    expect(() => parseVolumeFlag('./nope:/x', cwd)).toThrow(`-v "./nope:/x": ${cwd}/nope does not exist`);
    expect(() => parseVolumeFlag('a/b:/x', cwd)).toThrow('-v "a/b:/x": "a/b" includes invalid characters for a local volume name');
    expect(() => parseVolumeFlag('d:/x', cwd)).toThrow('-v "d:/x": volume name "d" is too short');
    expect(() => parseVolumeFlag('data:x', cwd)).toThrow('-v "data:x": the container path "x" must be absolute');
    expect(() => parseVolumeFlag('data:/', cwd)).toThrow('the container path cannot be /');
    expect(() => parseVolumeFlag('data:/x:rx', cwd)).toThrow('-v "data:/x:rx": unknown option "rx"');
    expect(() => parseVolumeFlag('data:/x:shared', cwd)).toThrow('shared: propagation is for a host path');
    expect(() => parseVolumeFlag('./dir:/x:nocopy', cwd)).toThrow('nocopy is for volumes');
    expect(() => parseVolumeFlag('a:b:c:d', cwd)).toThrow('give [HOST-PATH|NAME:]CONTAINER-PATH[:ro]');
    expect(() => parseVolumeFlag('data::ro', cwd)).toThrow('give [HOST-PATH|NAME:]CONTAINER-PATH[:ro]');
  });
});

describe('--mount', () => {
  it("takes docker's keys and aliases; type defaults to volume", () => {
    expect(parseMountFlag('type=bind,src=./dir,dst=/x,ro', cwd)).toMatchObject({
      type: 'bind',
      source: path.join(cwd, 'dir'),
      target: '/x',
      readonly: true,
    });
    expect(parseMountFlag(`type=bind,source=${cwd},destination=/x,readonly=false,bind-propagation=rslave`, cwd)).toMatchObject({
      readonly: false,
      propagation: 'rslave',
    });
    expect(parseMountFlag('source=v1,target=/d,volume-nocopy', cwd)).toMatchObject({
      type: 'volume',
      name: 'v1',
      target: '/d',
      nocopy: true,
    });
    expect(parseMountFlag('type=volume,dst=/d,readonly=1', cwd)).toMatchObject({
      type: 'volume',
      name: undefined,
      readonly: true,
      nocopy: false,
    });
    expect(parseMountFlag('type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=1777', cwd)).toMatchObject({
      type: 'tmpfs',
      options: ['size=1048576', 'mode=1777'],
    });
  });

  it('refuses with the key named', () => {
    const bad: [string, string][] = [
      ['type=volume,foo=1,dst=/x', 'unknown key "foo"'],
      ['type=nfs,dst=/x', 'type=nfs: not a mount type tcr supports'],
      ['type=bind,dst=/x', 'source is required for type=bind'],
      ['type=bind,src=/no/such/dir,dst=/x', '/no/such/dir does not exist'],
      ['type=volume,src=v1', 'target is required'],
      ['type=volume,src=v1,dst=', 'dst needs a value (dst=...)'],
      ['type=volume,src=v1,dst=/x,bind-propagation=shared', 'bind-propagation is only for type=bind, not type=volume'],
      ['type=bind,src=/,dst=/x,volume-nocopy', 'volume-nocopy is only for type=volume, not type=bind'],
      ['type=bind,src=/,dst=/x,bind-propagation=sideways', 'bind-propagation=sideways: not one of shared'],
      ['type=tmpfs,src=x,dst=/x', 'source is not allowed for type=tmpfs'],
      ['type=tmpfs,dst=/x,tmpfs-mode=999', 'tmpfs-mode=999: not an octal mode'],
      ['type=tmpfs,dst=/x,tmpfs-size=lots', 'tmpfs-size'],
      ['type=volume,dst=/x,ro=maybe', 'ro=maybe: not a boolean'],
      ['type=volume,src=a/b,dst=/x', '"a/b" includes invalid characters'],
      ['type=volume,dst=/x,target=/y', 'target given twice'],
      ['type=volume,dst=/x,volume-driver=nfs', 'only the local driver'],
    ];
    for (const [m, message] of bad) {
      const thrown = (() => {
        try {
          parseMountFlag(m, cwd);
        } catch (e) {
          return (e as Error).message;
        }
        return 'nothing thrown';
      })();
      expect(thrown.startsWith(`--mount ${JSON.stringify(m)}: `), thrown).toBe(true);
      expect(thrown, m).toContain(message);
    }
  });
});

describe('all mount flags together', () => {
  it('--tmpfs keeps its options; ro makes it read-only', () => {
    expect(parseTmpfsFlag('/t:size=64k,ro')).toMatchObject({ type: 'tmpfs', target: '/t', readonly: true, options: ['size=64k'] });
  });

  it('refuses two mounts on one path, naming both flags', () => {
    expect(() => parseMountFlags({ volumes: ['a1:/x'], mounts: ['dst=/x/'], tmpfs: [] }, cwd)).toThrow(
      '--mount "dst=/x/": duplicate mount point /x (also -v "a1:/x")',
    );
  });

  it("become bind mounts of the volumes' _data, parents first; anonymous volumes get a 64-hex name", () => {
    const vs = new VolumeStore('/store');
    const named = nameVolumes(
      parseMountFlags({ volumes: ['/a/b', 'v1:/a:ro'], mounts: [`type=bind,src=${cwd},dst=/c`], tmpfs: ['/t'] }, cwd),
    );
    const anon = named[0];
    expect(anon.type === 'volume' && anon.anonymous && /^[0-9a-f]{64}$/.test(anon.name)).toBe(true);
    const mounts = specMounts(named, vs);
    expect(mounts.map((m) => m.destination)).toEqual(['/a', '/c', '/t', '/a/b']);
    expect(mounts[0]).toEqual({ destination: '/a', type: 'bind', source: '/store/volumes/v1/_data', options: ['rbind', 'rprivate', 'ro'] });
    expect(mounts[1]).toEqual({ destination: '/c', type: 'bind', source: cwd, options: ['rbind', 'rprivate', 'rw'] });
    expect(mounts[2]).toEqual({ destination: '/t', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'rw'] });
    expect(mounts[3].source).toBe(`/store/volumes/${(anon as { name: string }).name}/_data`);
  });
});

describe('volume names and labels', () => {
  it("docker's rule: a letter or digit, then letters, digits, _ . -; at least two", () => {
    for (const n of ['ab', 'a1', 'My_vol.2-x', '0a']) expect(checkVolumeName(n, 'volume name')).toBe(n);
    for (const n of ['a', '.x', '-x', '_x', 'a b', 'a:b', 'a/b', '..', 'ü1'])
      expect(() => checkVolumeName(n, 'volume name'), n).toThrow(/volume name/);
  });

  it('--label KEY=VALUE, KEY alone an empty value', () => {
    expect(parseLabels(['a=b', 'c', 'd=e=f'])).toEqual({ a: 'b', c: '', d: 'e=f' });
    expect(() => parseLabels(['=x'])).toThrow('--label "=x": no label name');
  });
});
