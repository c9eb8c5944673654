// A relative linux.cgroupsPath on a v1 host hangs under the runtime's own
// cgroup in each hierarchy. /proc/self/cgroup names a hierarchy by its
// controllers ("cpu", "name=systemd"), the layout by the directory it is
// mounted on, and the two need not agree: this host mounts them on matching
// names, so tcr runs here in a private mount namespace where the same
// hierarchies are mounted on other names ("processor", "elogind"), as hosts
// that mount "cpu,cpuacct" with a "cpu" link, or name their named hierarchy
// differently, do. The container's /proc/self/cgroup tells where it went.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { uniqueId } from './lib.js';

const HOST = '/sys/fs/cgroup';
const PARENT = `tcr-reltest-${process.pid}`;
// the host's hierarchy directory → the name it is mounted on in the test's namespace, and its mount options
const REMOUNTS = [
  { host: 'cpu', as: 'processor', options: 'cpu' },
  { host: 'systemd', as: 'elogind', options: 'none,name=systemd' },
];

const v1Host = fs.existsSync(path.join(HOST, 'cpu', 'cgroup.procs')) && fs.existsSync(path.join(HOST, 'systemd', 'cgroup.procs'));

describe.skipIf(lacks(isRoot && v1Host))('relative cgroupsPath on v1 hierarchies mounted on other names (root)', () => {
  const sb = new Sandbox('tcr-cgrel');
  const made: string[] = [];
  afterAll(() => {
    sb.cleanup();
    for (const dir of made.reverse()) {
      try {
        fs.rmdirSync(dir);
      } catch {
        // removed by tcr, or never made
      }
    }
  });

  it("puts the container under the runtime's own cgroup in each hierarchy, matched by its controllers", () => {
    const id = uniqueId('rel');
    const rel = `rel-${id}`;
    // where the runtime itself runs: a cgroup of this test's in each hierarchy
    for (const { host } of REMOUNTS) {
      made.push(path.join(HOST, host, PARENT), path.join(HOST, host, rel), path.join(HOST, host, PARENT, rel));
      fs.mkdirSync(path.join(HOST, host, PARENT));
    }
    const b = sb.bundle(id, (s) => {
      s.process!.args = ['cat', '/proc/self/cgroup'];
      s.linux!.cgroupsPath = rel;
      delete s.linux!.resources; // devices rules: no devices hierarchy in the test's namespace
    });
    const script = [
      'set -e',
      // a private copy of the host's mounts, or nothing below is done
      "if grep ' /sys/fs/cgroup ' /proc/self/mountinfo | grep -q shared:; then echo 'not private' >&2; exit 99; fi",
      'umount -l /sys/fs/cgroup',
      'mount -t tmpfs -o mode=755 tcr-reltest /sys/fs/cgroup',
      ...REMOUNTS.flatMap(({ as, options }) => [`mkdir /sys/fs/cgroup/${as}`, `mount -t cgroup -o ${options} cgroup /sys/fs/cgroup/${as}`]),
      ...REMOUNTS.map(({ as }) => `echo $$ > /sys/fs/cgroup/${as}/${PARENT}/cgroup.procs`),
      `exec ${TCR} --root ${sb.root} run --bundle ${b} ${id}`,
    ].join('\n');
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^\\d+:cpu:/${PARENT}/${rel}$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^\\d+:name=systemd:/${PARENT}/${rel}$`, 'm'));
    // and nothing of it was made under a hierarchy's root instead, or left under ours
    for (const { host } of REMOUNTS) {
      expect(fs.existsSync(path.join(HOST, host, rel))).toBe(false);
      expect(fs.existsSync(path.join(HOST, host, PARENT, rel))).toBe(false);
    }
  });
});
