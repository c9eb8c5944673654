// linux.resources.network on a v1/hybrid host: net_cls.classid and
// net_prio.ifpriomap where the host mounts those controllers, a refusal
// naming the field where it does not (runc refuses too). This host mounts
// neither, so the first case runs in a private mount namespace of the test's
// own that adds a net_cls,net_prio hierarchy beside bind mounts of the
// host's: nobody else sees it, and it is gone when the test ends.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { expectNothingLeft, uniqueId } from './lib.js';

const network = { classID: 0x100001, priorities: [{ name: 'lo', priority: 7 }] };

/** Whether the host mounts net_cls or net_prio anywhere (then the test leaves them alone). */
function hostMountsNetCls(): boolean {
  return /\scgroup \S+ \S*\bnet_(cls|prio)\b/.test(fs.readFileSync('/proc/self/mountinfo', 'utf8'));
}

describe.skipIf(lacks(isRoot) || fs.existsSync('/sys/fs/cgroup/cgroup.controllers'))(
  'linux.resources.network (v1/hybrid host, root)',
  () => {
    const sb = new Sandbox('tcr-cgnet');
    afterAll(() => sb.cleanup());

    it.skipIf(fs.existsSync('/sys/fs/cgroup/net_cls'))('where the host has no net_cls: refused naming the field, nothing left', () => {
      const id = uniqueId('nocls');
      const b = sb.bundle(id, (s) => {
        s.process!.args = ['true'];
        s.linux!.resources = { network };
      });
      const r = sb.tcr(['run', '--bundle', b, id]);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/linux\.resources\.network\.classID needs the net_cls controller, which this host does not mount/);
      expectNothingLeft(sb, id);
    });

    it.skipIf(hostMountsNetCls())('where net_cls,net_prio is mounted: the classid and the interface priority are set', () => {
      const id = uniqueId('cls');
      const b = sb.bundle(id, (s) => {
        s.process!.args = ['sleep', '30'];
        s.linux!.resources = { network };
      });
      const orig = path.join(sb.dir, 'cgroup-orig');
      const script = `
      set -e
      mkdir -p ${orig}
      mount --rbind /sys/fs/cgroup ${orig}
      mount -t tmpfs cgroups /sys/fs/cgroup
      for d in $(ls ${orig}); do mkdir /sys/fs/cgroup/$d; mount --rbind ${orig}/$d /sys/fs/cgroup/$d; done
      umount -l ${orig}
      mkdir /sys/fs/cgroup/net_cls,net_prio
      mount -t cgroup -o net_cls,net_prio net_cls /sys/fs/cgroup/net_cls,net_prio
      # whatever fails, the container and every cgroup under the hierarchy go before the namespace does
      trap '${TCR} --root ${sb.root} delete --force ${id} >/dev/null 2>&1; find /sys/fs/cgroup/net_cls,net_prio -mindepth 1 -depth -type d -exec rmdir {} +' EXIT
      ${TCR} --root ${sb.root} run --detach --bundle ${b} ${id} </dev/null >/dev/null 2>&1
      pid=$(${TCR} --root ${sb.root} state ${id} | sed -n 's/.*"pid": *\\([0-9]*\\).*/\\1/p')
      dir=/sys/fs/cgroup/net_cls,net_prio$(grep ':net_cls,net_prio:' /proc/$pid/cgroup | cut -d: -f3)
      echo "classid=$(cat $dir/net_cls.classid)"
      echo "lo=$(grep '^lo ' $dir/net_prio.ifpriomap)"
      ${TCR} --root ${sb.root} delete --force ${id}
      test ! -e $dir && echo removed
    `;
      const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`classid=${0x100001}\nlo=lo 7\nremoved\n`);
      expect(r.status).toBe(0);
      expectNothingLeft(sb, id);
    });
  },
);
