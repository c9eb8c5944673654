// What a launch that fails half-way leaves behind, seen from outside: no
// --pid-file naming the dead init, and, when part of the undo itself fails
// (a cgroup something else keeps busy), the launch's own error and every
// other part of the undo still done.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { expectNothingLeft, shBundle, uniqueId } from './lib.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
const PARENT = `tcr-failtest-${process.pid}`;

describe.skipIf(lacks(isRoot))('a failed launch (root, real kernel)', () => {
  const sb = new Sandbox('tcr-failed');
  afterAll(() => {
    // a regression would leave the container's mounts under the sandbox: detach them before
    // the sandbox is removed, so its removal never walks into a mounted proc, sys or cgroup
    for (const m of mountsUnder(sb.dir).reverse()) spawnSync('umount', ['-l', m]);
    sb.cleanup();
  });

  describe('--pid-file', () => {
    // runc (1.1) leaves the file it wrote at create, naming the dead init, when the exec itself
    // fails ("exec /bad: no such file or directory"); a missing program it finds before
    // writing it. tcr leaves neither: a pid file of a dead pid would be signalled by whoever
    // gets that pid next.
    it.each([
      ['a program whose interpreter is missing (the exec fails after ready)', '/bad-interp', '#!/no/such/interpreter\n'],
      ['a file of no known format (ENOEXEC)', '/not-a-program', 'ELF? no\n'],
      ['a missing program (found missing before ready)', '/no/such/program', undefined],
    ])('a foreground run of %s leaves no pid file', (_what, program, content) => {
      const id = uniqueId('pidf');
      const b = shBundle(sb, id, 'true', (s) => (s.process!.args = [program]));
      if (content !== undefined) fs.writeFileSync(path.join(b, 'rootfs', program), content, { mode: 0o755 });
      const pidFile = path.join(sb.dir, `${id}.pid`);
      const r = sb.tcr(['run', '--pid-file', pidFile, '--bundle', b, id]);
      expect(r.stderr).toContain(program);
      expect(r.status).not.toBe(0);
      expect(fs.existsSync(pidFile)).toBe(false);
      expectNothingLeft(sb, id);
    });

    it('a run that succeeds keeps its pid file, as runc does', () => {
      const id = uniqueId('pidok');
      const b = shBundle(sb, id, 'echo $$');
      const pidFile = path.join(sb.dir, `${id}.pid`);
      const r = sb.tcr(['run', '--pid-file', pidFile, '--bundle', b, id]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(fs.readFileSync(pidFile, 'utf8')).toMatch(/^\d+$/);
    });
  });

  describe('a cgroup that cannot be removed', () => {
    afterAll(() => {
      // whatever is left under this file's parent in any hierarchy (a regression leaves more),
      // children first: the hook's busy child, the leaves tcr could not remove, the parent
      for (const h of fs.readdirSync(CGROUP_ROOT)) removeCgroupTree(path.join(CGROUP_ROOT, h, PARENT));
    });

    it("fails with the launch's own error, and every other undo step still runs", () => {
      const id = uniqueId('busy');
      const leaf = path.join(CGROUP_ROOT, 'pids', PARENT, id);
      // the prestart hook makes a child cgroup in the container's (as a nested manager could)
      // and fails: the launch's cleanup then finds that cgroup busy
      const b = shBundle(sb, id, 'echo ran', (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount'); // its mounts are made in the host's namespace
        s.root!.readonly = false;
        s.linux!.cgroupsPath = `/${PARENT}/${id}`;
        s.hooks = { prestart: [{ path: '/bin/sh', args: ['sh', '-c', `mkdir ${leaf}/held && echo refused >&2 && exit 7`] }] };
      });
      const rootfs = path.join(b, 'rootfs');
      const r = sb.tcr(['create', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `^tcr: prestart hook 0 \\(/bin/sh\\): exit status 7: refused \\(cleaning up also failed: remove the cgroup: cgroup: cannot remove ${leaf}: EBUSY\\)\\n$`,
        ),
      );
      // the mounts the init made under the rootfs, in the host's namespace, are gone all the same
      expect(mountsUnder(rootfs)).toEqual([]);
      expect(fs.existsSync(path.join(sb.root, id))).toBe(false);
      // and so is the container's cgroup in every hierarchy but the busy one
      const left = fs.readdirSync(CGROUP_ROOT).filter((h) => fs.existsSync(path.join(CGROUP_ROOT, h, PARENT, id)));
      expect(left).toEqual(['pids']);
    });
  });
});

/** rmdir of a cgroup directory of this test's and of every cgroup below it (a cgroup's files go with it). */
function removeCgroupTree(dir: string): void {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return; // never made, or removed by tcr
  }
  for (const e of entries) if (e.isDirectory()) removeCgroupTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}
