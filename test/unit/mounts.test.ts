// parseMountOptions: mount(8)-style options into MS_* flags, propagation and
// the data string the filesystem gets.
import { describe, expect, it } from 'vitest';
import { MS, PROPAGATION, flagNames, parseMountOptions, rootPropagationAfter, rootPropagationBefore } from '../../src/linux/mounts.js';
import { defaultSpec } from '../../src/spec/defaults.js';

describe('parseMountOptions', () => {
  it('returns nothing for no options', () => {
    expect(parseMountOptions()).toEqual({ flags: 0, propagation: [], data: [] });
    expect(parseMountOptions([])).toEqual({ flags: 0, propagation: [], data: [] });
  });

  it('turns flag options into MS_* bits', () => {
    expect(parseMountOptions(['nosuid', 'nodev', 'noexec', 'ro']).flags).toBe(MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY);
    expect(parseMountOptions(['strictatime']).flags).toBe(MS.STRICTATIME);
    expect(parseMountOptions(['relatime', 'noatime', 'nodiratime']).flags).toBe(MS.RELATIME | MS.NOATIME | MS.NODIRATIME);
    expect(parseMountOptions(['sync', 'dirsync', 'mand', 'lazytime', 'iversion', 'silent', 'nosymfollow']).flags).toBe(
      MS.SYNCHRONOUS | MS.DIRSYNC | MS.MANDLOCK | MS.LAZYTIME | MS.I_VERSION | MS.SILENT | MS.NOSYMFOLLOW,
    );
    expect(parseMountOptions(['bind']).flags).toBe(MS.BIND);
    expect(parseMountOptions(['rbind']).flags).toBe(MS.BIND | MS.REC);
    expect(parseMountOptions(['remount']).flags).toBe(MS.REMOUNT);
  });

  it('lets a later option clear an earlier one', () => {
    expect(parseMountOptions(['ro', 'rw']).flags).toBe(0);
    expect(parseMountOptions(['rw', 'ro']).flags).toBe(MS.RDONLY);
    expect(parseMountOptions(['nosuid', 'suid', 'nodev']).flags).toBe(MS.NODEV);
    expect(parseMountOptions(['noexec', 'exec']).flags).toBe(0);
    expect(parseMountOptions(['nodev', 'dev']).flags).toBe(0);
    expect(parseMountOptions(['noatime', 'atime']).flags).toBe(0);
    expect(parseMountOptions(['relatime', 'norelatime']).flags).toBe(0);
    expect(parseMountOptions(['strictatime', 'nostrictatime']).flags).toBe(0);
    expect(parseMountOptions(['sync', 'async']).flags).toBe(0);
  });

  it('collects propagation options in order, apart from the flags', () => {
    const o = parseMountOptions(['rbind', 'rprivate', 'ro', 'shared']);
    expect(o.flags).toBe(MS.BIND | MS.REC | MS.RDONLY);
    expect(o.propagation).toEqual([MS.PRIVATE | MS.REC, MS.SHARED]);
    expect(parseMountOptions(['slave', 'rslave', 'unbindable', 'runbindable', 'private', 'rshared']).propagation).toEqual([
      MS.SLAVE,
      MS.SLAVE | MS.REC,
      MS.UNBINDABLE,
      MS.UNBINDABLE | MS.REC,
      MS.PRIVATE,
      MS.SHARED | MS.REC,
    ]);
  });

  it('passes unknown options to the filesystem as data, in order', () => {
    const o = parseMountOptions(['nosuid', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(o.flags).toBe(MS.NOSUID);
    expect(o.data).toEqual(['newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    expect(parseMountOptions(['size=65536k', 'mode=1777']).data).toEqual(['size=65536k', 'mode=1777']);
  });

  it('drops x- options (user-space annotations)', () => {
    expect(parseMountOptions(['x-systemd.automount', 'ro', 'x-foo=bar'])).toEqual({ flags: MS.RDONLY, propagation: [], data: [] });
  });
});

describe('propagation helpers', () => {
  it('maps every propagation name', () => {
    expect(Object.keys(PROPAGATION).sort()).toEqual([
      'private',
      'rprivate',
      'rshared',
      'rslave',
      'runbindable',
      'shared',
      'slave',
      'unbindable',
    ]);
  });

  it('makes / rslave first unless rootfsPropagation asks for private or shared (then that, as runc)', () => {
    const s = defaultSpec();
    expect(rootPropagationBefore(s)).toBe(MS.SLAVE | MS.REC);
    expect(rootPropagationAfter(s)).toBeUndefined();
    s.linux!.rootfsPropagation = 'private';
    expect(rootPropagationBefore(s)).toBe(MS.PRIVATE | MS.REC);
    expect(rootPropagationAfter(s)).toBe(MS.PRIVATE);
    s.linux!.rootfsPropagation = 'rshared';
    expect(rootPropagationBefore(s)).toBe(MS.SHARED | MS.REC);
    expect(rootPropagationAfter(s)).toBe(MS.SHARED | MS.REC);
  });

  it('names flags for labels', () => {
    expect(flagNames(MS.SLAVE | MS.REC)).toBe('rec,slave');
    expect(flagNames(0)).toBe('');
  });
});
