// The container's filesystem: masked and read-only paths, a read-only root,
// bind and tmpfs mounts with their options, rootfs propagation, /dev (default
// nodes, linux.devices, symlinks), sysctls and --no-pivot.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Sandbox, isRoot, mountsUnder, type Result, lacks } from '../helpers.js';
import type { Spec } from '../../src/spec/types.js';
import { expectNothingLeft, shBundle, uniqueId } from './lib.js';

interface MountInfo {
  root: string;
  point: string;
  options: string[];
  optional: string[];
  fstype: string;
  source: string;
  super: string[];
}

/** Parses /proc/PID/mountinfo text. */
function mountinfo(text: string): MountInfo[] {
  return text
    .split('\n')
    .filter((l) => /^\d+ \d+ /.test(l))
    .map((l) => {
      const [left, right] = l.split(' - ');
      const f = left.split(' ');
      const r = right.split(' ');
      return {
        root: f[3],
        point: f[4],
        options: f[5].split(','),
        optional: f.slice(6),
        fstype: r[0],
        source: r[1],
        super: (r[2] ?? '').split(','),
      };
    });
}

function lastAt(mounts: MountInfo[], point: string): MountInfo | undefined {
  return mounts.filter((m) => m.point === point).pop();
}

/** Splits output printed after "== name" headers. */
function sections(out: string): Record<string, string> {
  const m: Record<string, string> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    const h = /^== (\S+)$/.exec(line);
    if (h) m[(cur = h[1])] = '';
    else if (cur) m[cur] += line + '\n';
  }
  for (const k of Object.keys(m)) m[k] = m[k].trimEnd();
  return m;
}

describe.skipIf(lacks(isRoot))('rootfs and mounts (root, real kernel)', () => {
  const sb = new Sandbox('tcr-rootfs');
  afterAll(() => sb.cleanup());

  describe('the demo config: masked paths, read-only paths, read-only root, /dev', () => {
    let r: Result;
    let s: Record<string, string>;
    let mi: MountInfo[];
    beforeAll(() => {
      r = sb.run(
        [
          'echo "== mountinfo"; cat /proc/self/mountinfo',
          'echo "== keys"; wc -c < /proc/keys',
          'echo "== timer_list"; wc -c < /proc/timer_list',
          'echo "== acpi"; ls -A /proc/acpi; echo "n=$(ls -A /proc/acpi | wc -l)"',
          'echo "== acpiwrite"; touch /proc/acpi/x 2>&1; echo "rc=$?"',
          'echo "== procsys"; echo x 2>&1 > /proc/sys/kernel/domainname; echo "rc=$?"',
          'echo "== roottouch"; touch /x 2>&1; echo "rc=$?"',
          'echo "== devs"; stat -c "%n %F %t:%T %a %u:%g" /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty',
          'echo "== links"; for l in fd stdin stdout stderr ptmx; do echo "$l -> $(readlink /dev/$l)"; done',
          'echo "== devnull"; echo discard > /dev/null; echo "rc=$?"; head -c 4 /dev/zero | od -An -tx1 | tr -d " "',
          'echo "== end"',
        ].join('; '),
      );
      s = sections(r.stdout);
      mi = mountinfo(s.mountinfo ?? '');
    });

    it('runs successfully', () => {
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(s.end).toBe('');
    });

    it('masks files with /dev/null (/proc/keys, /proc/timer_list read as empty)', () => {
      // (this kernel has no /proc/kcore; missing masked paths are skipped)
      expect(s.keys).toBe('0');
      expect(s.timer_list).toBe('0');
      expect(lastAt(mi, '/proc/keys')?.root).toBe('/null');
      expect(lastAt(mi, '/proc/timer_list')?.root).toBe('/null');
    });

    it('masks directories with an empty read-only tmpfs (/proc/acpi)', () => {
      expect(s.acpi).toBe('n=0');
      expect(s.acpiwrite).toMatch(/Read-only file system/);
      expect(s.acpiwrite).toMatch(/rc=1$/);
      const acpi = lastAt(mi, '/proc/acpi');
      expect(acpi?.fstype).toBe('tmpfs');
      expect(acpi?.options).toContain('ro');
    });

    it('makes readonlyPaths read-only (/proc/sys, /proc/bus, /proc/irq)', () => {
      for (const p of ['/proc/sys', '/proc/bus', '/proc/irq']) {
        const m = lastAt(mi, p);
        expect(m?.fstype, p).toBe('proc');
        expect(m?.options, p).toContain('ro');
      }
      expect(lastAt(mi, '/proc')?.options).toContain('rw');
      expect(s.procsys).toMatch(/Read-only file system/);
      expect(s.procsys).toMatch(/rc=1$/);
    });

    it('makes / read-only with root.readonly', () => {
      expect(lastAt(mi, '/')?.options).toContain('ro');
      expect(s.roottouch).toMatch(/Read-only file system/);
      expect(s.roottouch).toMatch(/rc=1$/);
    });

    it('has the default device nodes with the right numbers and modes', () => {
      expect(s.devs.split('\n')).toEqual([
        '/dev/null character special file 1:3 666 0:0',
        '/dev/zero character special file 1:5 666 0:0',
        '/dev/full character special file 1:7 666 0:0',
        '/dev/random character special file 1:8 666 0:0',
        '/dev/urandom character special file 1:9 666 0:0',
        '/dev/tty character special file 5:0 666 0:0',
      ]);
      expect(s.devnull).toBe('rc=0\n00000000');
    });

    it('has the /dev symlinks', () => {
      expect(s.links.split('\n')).toEqual([
        'fd -> /proc/self/fd',
        'stdin -> /proc/self/fd/0',
        'stdout -> /proc/self/fd/1',
        'stderr -> /proc/self/fd/2',
        'ptmx -> pts/ptmx',
      ]);
    });

    it('mounts what config.json lists with its options', () => {
      expect(lastAt(mi, '/proc')?.fstype).toBe('proc');
      const dev = lastAt(mi, '/dev')!;
      expect(dev.fstype).toBe('tmpfs');
      expect(dev.options).toContain('nosuid');
      expect(dev.super).toContain('size=65536k');
      expect(dev.super).toContain('mode=755');
      const pts = lastAt(mi, '/dev/pts')!;
      expect(pts.fstype).toBe('devpts');
      expect(pts.options).toEqual(expect.arrayContaining(['nosuid', 'noexec']));
      expect(pts.super).toEqual(expect.arrayContaining(['gid=5', 'mode=620', 'ptmxmode=666']));
      const shm = lastAt(mi, '/dev/shm')!;
      expect(shm.options).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec']));
      expect(lastAt(mi, '/dev/mqueue')?.fstype).toBe('mqueue');
      const sys = lastAt(mi, '/sys')!;
      expect(sys.fstype).toBe('sysfs');
      expect(sys.options).toContain('ro');
      // no host path is visible as a mount point
      expect(mi.filter((m) => m.point.startsWith(sb.dir))).toEqual([]);
    });
  });

  it('a writable root (root.readonly false) lets the process write, and the write lands in the rootfs', () => {
    const id = uniqueId('rw');
    const b = shBundle(sb, id, 'touch /made-inside && grep " / " /proc/self/mountinfo | head -n 1 | cut -d" " -f6', (spec) => {
      spec.root!.readonly = false;
    });
    const r = sb.tcr(['run', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split(',')).toContain('rw');
    expect(fs.existsSync(path.join(b, 'rootfs', 'made-inside'))).toBe(true);
  });

  it('bind mounts honour ro, nosuid and rw; a file can be bind-mounted on a missing target', () => {
    const ro = path.join(sb.dir, 'host-ro');
    const rw = path.join(sb.dir, 'host-rw');
    const file = path.join(sb.dir, 'host-file.txt');
    fs.mkdirSync(ro);
    fs.mkdirSync(rw);
    fs.writeFileSync(path.join(ro, 'hello'), 'hello from the host\n');
    fs.writeFileSync(file, 'a single file\n');
    const r = sb.run(
      [
        'cat /mnt/ro/hello',
        'touch /mnt/ro/x 2>&1; echo "rc=$?"',
        'echo inside > /mnt/rw/made; echo "rc=$?"',
        'cat /etc/extra/file.txt',
        'grep -E " /mnt/(ro|rw) " /proc/self/mountinfo | cut -d" " -f5,6',
      ].join('; '),
      (spec) => {
        spec.mounts!.push(
          { destination: '/mnt/ro', type: 'bind', source: ro, options: ['bind', 'ro', 'nosuid'] },
          { destination: '/mnt/rw', type: 'bind', source: rw, options: ['rbind', 'rw', 'nodev'] },
          { destination: '/etc/extra/file.txt', type: 'bind', source: file, options: ['bind', 'ro'] },
        );
      },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('hello from the host');
    expect(lines[1]).toMatch(/Read-only file system/);
    expect(lines[2]).toBe('rc=1');
    expect(lines[3]).toBe('rc=0');
    expect(lines[4]).toBe('a single file');
    const [roLine, rwLine] = [lines.find((l) => l.startsWith('/mnt/ro '))!, lines.find((l) => l.startsWith('/mnt/rw '))!];
    expect(roLine.split(' ')[1].split(',')).toEqual(expect.arrayContaining(['ro', 'nosuid']));
    expect(rwLine.split(' ')[1].split(',')).toEqual(expect.arrayContaining(['rw', 'nodev']));
    expect(rwLine.split(' ')[1].split(',')).not.toContain('ro');
    expect(fs.readFileSync(path.join(rw, 'made'), 'utf8')).toBe('inside\n');
    expect(fs.readdirSync(ro)).toEqual(['hello']);
  });

  it('a tmpfs mount gets its size and mode', () => {
    const r = sb.run('grep " /scratch " /proc/self/mountinfo; stat -c "%a" /scratch; df -k /scratch | tail -n 1', (spec) => {
      spec.mounts!.push({ destination: '/scratch', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'size=1m', 'mode=1777'] });
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [info, mode, df] = r.stdout.trim().split('\n');
    const m = mountinfo(info)[0];
    expect(m.fstype).toBe('tmpfs');
    expect(m.options).toEqual(expect.arrayContaining(['nosuid', 'noexec']));
    expect(m.super).toContain('size=1024k');
    expect(mode).toBe('1777');
    expect(df.split(/\s+/)[1]).toBe('1024');
  });

  it('a tmpfs with tmpcopyup starts with a copy of the directory it covers (owners, modes, symlinks, nested dirs)', () => {
    const b = sb.bundle(uniqueId('copyup'), (spec) => {
      spec.process!.args = [
        'sh',
        '-c',
        [
          'grep " /data " /proc/self/mountinfo | cut -d" " -f9',
          'stat -c "%n %a %u:%g %F" /data /data/file /data/sub /data/sub/deep /data/link',
          'cat /data/sub/deep; readlink /data/link',
          'echo new > /data/new && echo writable',
        ].join('; '),
      ];
      spec.root!.readonly = true;
      spec.mounts!.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'tmpcopyup'] });
      spec.mounts!.push({ destination: '/fresh', type: 'tmpfs', source: 'tmpfs', options: ['tmpcopyup'] });
    });
    const data = path.join(b, 'rootfs', 'data');
    fs.mkdirSync(path.join(data, 'sub'), { recursive: true });
    fs.chmodSync(data, 0o711);
    fs.writeFileSync(path.join(data, 'file'), 'f');
    fs.chmodSync(path.join(data, 'file'), 0o4755);
    fs.chownSync(path.join(data, 'sub'), 1000, 1001);
    fs.chmodSync(path.join(data, 'sub'), 0o705);
    fs.writeFileSync(path.join(data, 'sub', 'deep'), 'deep content\n', { mode: 0o604 });
    fs.symlinkSync('/etc/passwd', path.join(data, 'link'));
    const r = sb.tcr(['run', '--bundle', b, uniqueId('copyup')]);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toEqual([
      'tmpfs',
      '/data 711 0:0 directory',
      '/data/file 4755 0:0 regular file',
      '/data/sub 705 1000:1001 directory',
      '/data/sub/deep 604 0:0 regular file',
      '/data/link 777 0:0 symbolic link',
      'deep content',
      '/etc/passwd',
      'writable',
      '',
    ]);
    // nothing was written back: the image's directory is untouched
    expect(fs.readdirSync(data).sort()).toEqual(['file', 'link', 'sub']);
  });

  describe('rootfsPropagation (rootfs on a shared mount of the host)', () => {
    let rootfs: string;
    let bundleDir: string;
    beforeAll(() => {
      bundleDir = shBundle(sb, 'prop', 'true');
      rootfs = path.join(bundleDir, 'rootfs');
      // a shared mount, so that slave and shared have a peer group to follow
      expect(spawnSync('mount', ['--bind', rootfs, rootfs]).status).toBe(0);
      expect(spawnSync('mount', ['--make-shared', rootfs]).status).toBe(0);
    });
    afterAll(() => {
      spawnSync('umount', ['-l', rootfs]);
    });

    const rootLine = (prop: string | undefined): MountInfo => {
      const id = uniqueId('prop');
      const spec = JSON.parse(fs.readFileSync(path.join(bundleDir, 'config.json'), 'utf8'));
      spec.process.args = ['sh', '-c', 'cat /proc/self/mountinfo'];
      if (prop) spec.linux.rootfsPropagation = prop;
      else delete spec.linux.rootfsPropagation;
      fs.writeFileSync(path.join(bundleDir, 'config.json'), JSON.stringify(spec));
      const r = sb.tcr(['run', '--bundle', bundleDir, id]);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      return lastAt(mountinfo(r.stdout), '/')!;
    };

    it('shared: / is in a peer group of its own', () => {
      const m = rootLine('shared');
      expect(m.optional.some((o) => o.startsWith('shared:'))).toBe(true);
    });

    it('slave: / receives from the host (master) and is not shared', () => {
      const m = rootLine('slave');
      expect(m.optional.some((o) => o.startsWith('master:'))).toBe(true);
      expect(m.optional.some((o) => o.startsWith('shared:'))).toBe(false);
    });

    it('private: / has no propagation', () => {
      expect(rootLine('private').optional).toEqual([]);
    });

    it('unbindable: / is unbindable', () => {
      expect(rootLine('unbindable').optional).toEqual(['unbindable']);
    });

    it('nothing the container mounts propagates to the host', () => {
      rootLine('shared');
      expect(
        fs
          .readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .filter((l) => l.includes(`${rootfs}/`)),
      ).toEqual([]);
    });
  });

  it('linux.devices adds device nodes (char with owner and mode, fifo)', () => {
    const r = sb.run('stat -c "%n %F %t:%T %a %u:%g" /dev/mynull /dev/sub/myzero /dev/myfifo', (spec) => {
      spec.linux!.devices = [
        { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o600, uid: 1000, gid: 1001 },
        { path: '/dev/sub/myzero', type: 'c', major: 1, minor: 5, fileMode: 0o640 },
        { path: '/dev/myfifo', type: 'p', fileMode: 0o620 },
      ];
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      '/dev/mynull character special file 1:3 600 1000:1001',
      '/dev/sub/myzero character special file 1:5 640 0:0',
      '/dev/myfifo fifo 0:0 620 0:0',
    ]);
  });

  it('linux.sysctl sets network and ipc sysctls inside the container only', () => {
    const hostForward = fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const hostShmmax = fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8');
    const r = sb.run('cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax', (spec) => {
      spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '123456789' };
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('1\n123456789\n');
    expect(fs.readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(hostForward);
    expect(fs.readFileSync('/proc/sys/kernel/shmmax', 'utf8')).toBe(hostShmmax);
  });

  it('--no-pivot runs the container chrooted into its rootfs', () => {
    const id = uniqueId('nopivot');
    const b = shBundle(
      sb,
      id,
      'echo pid=$$; ls /; test -e /proc/self/root/bin/busybox && echo busybox-at-root; grep -c . /proc/self/mountinfo >/dev/null && echo mountinfo-ok',
    );
    const r = sb.tcr(['run', '--no-pivot', '--bundle', b, id]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toBe('pid=1');
    expect(lines).toContain('bin');
    expect(lines).toContain('busybox-at-root');
    expect(lines).toContain('mountinfo-ok');
    // / is the rootfs, nothing of the host's /
    expect(lines.slice(1, -2)).toEqual(fs.readdirSync(path.join(b, 'rootfs')).sort());
    expectNothingLeft(sb, id);
  });
});

describe.skipIf(lacks(isRoot))("rshared volumes with rootfsPropagation rshared (the kubelet's Bidirectional)", () => {
  const sb = new Sandbox('tcr-rshared');
  afterAll(() => sb.cleanup());

  function sharedVolume(name: string): { vol: string; group: string; release: () => void } {
    const vol = path.join(sb.dir, name);
    fs.mkdirSync(vol);
    expect(spawnSync('mount', ['-t', 'tmpfs', name, vol]).status).toBe(0);
    expect(spawnSync('mount', ['--make-shared', vol]).status).toBe(0);
    fs.mkdirSync(path.join(vol, 'inner'));
    const line = fs
      .readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .find((l) => l.split(' ')[4] === vol)!;
    const group = /shared:(\d+)/.exec(line)![1];
    return { vol, group, release: () => void spawnSync('umount', ['-R', '-l', vol]) };
  }

  const withVolume = (vol: string, rootfsPropagation?: string) => (s: Spec) => {
    s.mounts!.push({ destination: '/vol', type: 'bind', source: vol, options: ['rbind', 'rshared'] });
    if (rootfsPropagation) s.linux!.rootfsPropagation = rootfsPropagation;
    for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set]!.push('CAP_SYS_ADMIN');
  };

  it("is a peer of the host's mount: a mount made inside reaches the host", () => {
    const { vol, group, release } = sharedVolume('vol-a');
    try {
      const r = sb.run('mount -t tmpfs inside /vol/inner && grep " /vol " /proc/self/mountinfo', withVolume(vol, 'rshared'));
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`shared:${group}( |$)`)); // the host's own peer group, not a slave of it
      expect(mountsUnder(path.join(vol, 'inner'))).toEqual([path.join(vol, 'inner')]);
    } finally {
      release();
    }
    expectNothingLeft(sb);
  });

  it('without rootfsPropagation the same volume is a slave: nothing made inside reaches the host', () => {
    const { vol, release } = sharedVolume('vol-b');
    try {
      const r = sb.run('mount -t tmpfs inside /vol/inner && echo mounted', withVolume(vol));
      expect(r.stdout).toBe('mounted\n');
      expect(mountsUnder(path.join(vol, 'inner'))).toEqual([]);
    } finally {
      release();
    }
    expectNothingLeft(sb);
  });
});
