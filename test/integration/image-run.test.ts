// `tcr run IMAGE [CMD...]`: the docker-style front door, on the demo busybox
// image imported into a private store.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, mountsUnder, lacks } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr run IMAGE', () => {
  const sb = new Sandbox('tcr-img');
  const store = path.join(sb.dir, 'store');
  // not about networking (network.test.ts is): a private loopback spares each run the bridge's CNI ADD and DEL
  const offline = (args: string[]) =>
    args[0] === 'run' && !args.includes('--network') ? ['run', '--network', 'none', ...args.slice(1)] : args;
  const tcr = (args: string[], opts = {}) => sb.tcr(['--store', store, ...offline(args)], opts);
  beforeAll(() => {
    const r = tcr(['import', '-q', OCI, 'busybox']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  afterAll(() => sb.cleanup());

  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);

  it('runs a command of the image and removes everything with --rm', () => {
    const r = tcr(['run', '--rm', 'busybox', 'sh', '-c', 'echo hello; cat /etc/passwd | head -1; exit 3']);
    expect(r.stdout).toBe('hello\nroot:x:0:0:root:/root:/bin/sh\n');
    expect(r.status).toBe(3);
    expect(containers()).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
    expect(JSON.parse(tcr(['list', '--format', 'json']).stdout)).toEqual([]);
  });

  it('the root of an --rm container is a volatile overlay (no syncs of a layer about to be deleted); a kept one is not', () => {
    const rootOptions = 'awk \'$5 == "/" { print $NF }\' /proc/self/mountinfo';
    const rm = tcr(['run', '--rm', 'busybox', 'sh', '-c', rootOptions]);
    expect(rm.status).toBe(0);
    expect(rm.stdout).toMatch(/upperdir=/);
    // shown as `volatile`, or since Linux 6.x as `fsync=volatile`
    const isVolatile = (options: string) =>
      options
        .trim()
        .split(',')
        .some((o) => o === 'volatile' || o === 'fsync=volatile');
    expect(isVolatile(rm.stdout)).toBe(true);
    const kept = tcr(['run', '--name', 'not-volatile', 'busybox', 'sh', '-c', rootOptions]);
    try {
      expect(kept.status).toBe(0);
      expect(kept.stdout).toMatch(/upperdir=/);
      expect(isVolatile(kept.stdout)).toBe(false);
    } finally {
      tcr(['rm', 'not-volatile']);
    }
  });

  it('merges env, workdir, user, hostname and entrypoint like docker', () => {
    const r = tcr([
      'run',
      '--rm',
      '-e',
      'A=1',
      '-e',
      'PATH=/bin',
      '-w',
      '/tmp',
      '-u',
      'nobody',
      '-h',
      'box',
      'busybox',
      'sh',
      '-c',
      'echo $A $PATH $HOSTNAME; pwd; id -u; id -g; hostname',
    ]);
    expect(r.stdout).toBe('1 /bin box\n/tmp\n65534\n65534\nbox\n');
    const e = tcr(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'from', 'entrypoint']);
    expect(e.stdout).toBe('from entrypoint\n');
    const envFile = path.join(sb.dir, 'env');
    fs.writeFileSync(envFile, '# comment\nB=two\n');
    expect(tcr(['run', '--rm', '--env-file', envFile, 'busybox', 'sh', '-c', 'echo $B']).stdout).toBe('two\n');
  });

  it('keeps a stopped container (without --rm) with its upper layer, unmounted, until rm', () => {
    const r = tcr(['run', '--name', 'kept', 'busybox', 'sh', '-c', 'echo data > /file']);
    expect(r.status).toBe(0);
    expect(mountsUnder(store)).toEqual([]);
    expect(fs.readFileSync(path.join(store, 'containers', 'kept', 'upper', 'file'), 'utf8')).toBe('data\n');
    expect(tcr(['ps', '-a']).stdout).toMatch(/^kept\s+busybox\s+.*Exited \(0\)/m);
    expect(tcr(['run', '--name', 'kept', 'busybox', 'true']).stderr).toMatch(/name "kept" is already in use/);
    expect(tcr(['rm', 'kept']).status).toBe(0);
    expect(containers()).toEqual([]);
  });

  it('--read-only, -v HOST:CTR:ro and --tmpfs', () => {
    const host = path.join(sb.dir, 'shared');
    fs.mkdirSync(host);
    fs.writeFileSync(path.join(host, 'f'), 'host file\n');
    const r = tcr([
      'run',
      '--rm',
      '--read-only',
      '-v',
      `${host}:/data:ro`,
      '--tmpfs',
      '/scratch',
      'busybox',
      'sh',
      '-c',
      'cat /data/f; touch /x 2>&1; touch /data/y 2>&1; touch /scratch/z && echo scratch-ok',
    ]);
    expect(r.stdout).toMatch(/host file/);
    expect(r.stdout).toMatch(/touch: \/x: Read-only file system/);
    expect(r.stdout).toMatch(/touch: \/data\/y: Read-only file system/);
    expect(r.stdout).toMatch(/scratch-ok/);
  });

  it('applies -m, --cpus and --pids-limit to its cgroup', () => {
    const r = tcr([
      'run',
      '--rm',
      '-m',
      '64m',
      '--cpus',
      '0.5',
      '--pids-limit',
      '20',
      'busybox',
      'sh',
      '-c',
      'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/pids/pids.max',
    ]);
    expect(r.stdout).toBe(`${64 * 1024 * 1024}\n50000\n20\n`);
  });

  it('capabilities, no-new-privileges and the default seccomp profile', () => {
    const caps = tcr([
      'run',
      '--rm',
      '--cap-drop',
      'ALL',
      '--cap-add',
      'NET_ADMIN',
      '--security-opt',
      'no-new-privileges',
      'busybox',
      'grep',
      '-E',
      '^(CapEff|NoNewPrivs)',
      '/proc/self/status',
    ]);
    expect(caps.stdout).toMatch(/CapEff:\s+0000000000001000/);
    expect(caps.stdout).toMatch(/NoNewPrivs:\s+1/);
    const def = tcr(['run', '--rm', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    expect(def.stdout).toMatch(/CapEff:\s+00000000a80425fb/); // docker's default set
    // unshare is blocked by the default profile even with the capability it needs
    const blocked = tcr(['run', '--rm', '--cap-add', 'SYS_ADMIN', 'busybox', 'unshare', '-m', 'true']);
    expect(blocked.status).not.toBe(0);
    expect(blocked.stderr).toMatch(/Operation not permitted/);
    const unconfined = tcr([
      'run',
      '--rm',
      '--cap-add',
      'SYS_ADMIN',
      '--security-opt',
      'seccomp=unconfined',
      'busybox',
      'unshare',
      '-m',
      'true',
    ]);
    expect(unconfined.status).toBe(0);
  });

  it('-d with logs, ps, stop and rm', async () => {
    const d = tcr(
      ['run', '-d', '--name', 'bg', 'busybox', 'sh', '-c', 'trap "echo bye; exit 0" TERM; echo up; while :; do sleep 0.1; done'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    expect(d.stdout).toBe('bg\n');
    for (let i = 0; i < 50 && !tcr(['logs', 'bg']).stdout.includes('up'); i++) await new Promise((r) => setTimeout(r, 50));
    expect(tcr(['logs', 'bg']).stdout).toBe('up\n');
    expect(tcr(['ps']).stdout).toMatch(/^bg\s+busybox\s+.*Up /m);
    expect(tcr(['stop', '-t', '5', 'bg']).stdout).toBe('bg\n');
    expect(tcr(['logs', 'bg']).stdout).toBe('up\nbye\n');
    expect(tcr(['ps']).stdout).not.toMatch(/^bg/m);
    expect(tcr(['rm', 'bg']).status).toBe(0);
    expect(containers()).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  });

  it('-d --rm: the container is removed when it exits, or when stopped, with no daemon', async () => {
    const gone = async (id: string) => {
      for (let i = 0; i < 100 && (containers().includes(id) || tcr(['ps', '-a']).stdout.includes(id)); i++)
        await new Promise((r) => setTimeout(r, 100));
      expect(tcr(['ps', '-a']).stdout).not.toContain(id);
      expect(containers()).not.toContain(id);
      expect(mountsUnder(path.join(store, 'containers', id))).toEqual([]);
    };
    // exits by itself, at once and after a while
    const quick = tcr(['run', '-d', '--rm', '--name', 'quick', 'busybox', 'true']);
    expect([quick.status, quick.stdout, quick.stderr]).toEqual([0, 'quick\n', '']);
    const later = tcr(['run', '-d', '--rm', '--name', 'later', 'busybox', 'sleep', '1']);
    expect(later.stdout).toBe('later\n');
    expect(tcr(['ps']).stdout).toMatch(/^later\s+busybox\s+.*Up /m);
    await gone('quick');
    await gone('later');
    // stopped by tcr stop
    expect(tcr(['run', '-d', '--rm', '--name', 'stopped', 'busybox', 'sleep', '60']).status).toBe(0);
    expect(tcr(['stop', '-t', '1', 'stopped']).status).toBe(0);
    await gone('stopped');
    // removed by hand first: the reaper then has nothing to do and says nothing
    expect(tcr(['run', '-d', '--rm', '--name', 'byhand', 'busybox', 'sleep', '60']).status).toBe(0);
    expect(tcr(['rm', '-f', 'byhand']).status).toBe(0);
    await gone('byhand');
    expect(mountsUnder(store)).toEqual([]);
  });

  it('-it gives a terminal', () => {
    const r = spawnSync(
      'script',
      ['-qec', `${TCR} --root ${sb.root} --store ${store} run --rm -it busybox sh -c 'tty; exit 4'`, '/dev/null'],
      { encoding: 'utf8', timeout: 30_000 },
    );
    expect(r.stdout).toMatch(/\/dev\/pts\/0/);
    expect(r.status).toBe(4);
  });

  it("an unknown image or a bad flag fails clearly, with docker's exit status 125, and leaves nothing", () => {
    const r = tcr(['run', '--rm', '--pull', 'never', 'no-such-image', 'true']);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/no-such-image/);
    // a source without a slash names a volume (docker's rule): one with a slash in it is neither a name nor a path
    const v = tcr(['run', '--rm', '-v', 'rel/ative:/x', 'busybox', 'true']);
    expect(v.stderr).toMatch(/-v "rel\/ative:\/x": "rel\/ative" includes invalid characters for a local volume name/);
    expect(v.status).toBe(125);
    const u = tcr(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
    expect(u.stderr).toMatch(/no such user/);
    expect(u.status).toBe(125);
    expect(containers()).toEqual([]);
    expect(fs.readdirSync(sb.root)).toEqual([]);
  });

  it("a command that is not there exits 127, one that cannot be executed 126, as with docker; the container's own status otherwise", () => {
    const missing = tcr(['run', '--rm', 'busybox', '/no/such/program']);
    expect(missing.stderr).toMatch(/"\/no\/such\/program": executable file not found/);
    expect(missing.status).toBe(127);
    const notExecutable = tcr(['run', '--rm', 'busybox', '/etc/passwd']);
    expect(notExecutable.stderr).toMatch(/"\/etc\/passwd"/);
    expect(notExecutable.status).toBe(126);
    expect(tcr(['run', '--rm', 'busybox', 'sh', '-c', 'exit 125']).status).toBe(125);
    expect(containers()).toEqual([]);
    expect(mountsUnder(store)).toEqual([]);
  });
});
