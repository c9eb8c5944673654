// Volumes as a docker user expects them (issue 14): `tcr volume` commands,
// -v NAME:/path made on first use and filled from the image, anonymous
// volumes removed by rm -v and run --rm (never named ones), relative binds,
// --mount, and refusals that leave nothing behind. Real containers on the
// demo busybox image plus a layer of owned files, in a private store and
// state root.
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { buildImage, layoutLayers, writeLayout } from '../image-fixtures.js';
import { waitFor } from './lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const HEX64 = /^[0-9a-f]{64}$/;

/** A layer tar with owners, modes, a symlink and (in the upper one) a whiteout: what a copy-up must keep. */
async function ownedTar(
  entries: {
    name: string;
    type?: 'file' | 'directory' | 'symlink';
    mode: number;
    uid?: number;
    gid?: number;
    content?: string;
    linkname?: string;
  }[],
) {
  const pack = tar.pack();
  for (const e of entries) {
    const header = {
      name: e.name,
      type: e.type ?? 'file',
      mode: e.mode,
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      linkname: e.linkname,
      mtime: new Date(1_700_000_000_000),
    };
    if (header.type === 'file') pack.entry(header, e.content ?? '');
    else pack.entry(header);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The demo busybox image with /srv/data in two layers on top. */
async function dataImageLayout(dir: string): Promise<void> {
  const base = layoutLayers(OCI);
  const lower = await ownedTar([
    { name: 'srv/', type: 'directory', mode: 0o755 },
    { name: 'srv/data/', type: 'directory', mode: 0o750, uid: 1000, gid: 1000 },
    { name: 'srv/data/owned', mode: 0o640, uid: 1000, gid: 2000, content: 'owned\n' },
    { name: 'srv/data/link', type: 'symlink', mode: 0o777, linkname: 'owned' },
    { name: 'srv/data/gone', mode: 0o644, content: 'deleted above\n' },
    { name: 'srv/data/sub/', type: 'directory', mode: 0o700, uid: 7, gid: 8 },
    { name: 'srv/data/sub/deep', mode: 0o600, content: 'deep\n' },
  ]);
  const upper = await ownedTar([
    { name: 'srv/data/.wh.gone', mode: 0o644 },
    { name: 'srv/data/top', mode: 0o4755, content: 'top\n' },
  ]);
  const img = await buildImage({ layers: [...base, lower, upper], compress: 'none' });
  writeLayout(dir, [{ img, refName: 'latest' }]);
}

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('volumes', () => {
  const sb = new Sandbox('tcr-vol');
  const store = path.join(sb.dir, 'store');
  const volumesDir = path.join(store, 'volumes');
  // not about networking: a private loopback spares each run the bridge's CNI ADD and DEL
  const offline = (args: string[]) =>
    args[0] === 'run' && !args.includes('--network') ? ['run', '--network', 'none', ...args.slice(1)] : args;
  const tcr = (args: string[], opts = {}) => sb.tcr(['--store', store, ...offline(args)], opts);
  const ok = (args: string[], opts = {}) => {
    const r = tcr(args, opts);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.status, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const volumes = () => ok(['volume', 'ls', '-q']).split('\n').filter(Boolean);
  const anonymous = () => volumes().filter((v) => HEX64.test(v));
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);

  beforeAll(async () => {
    const layout = path.join(sb.dir, 'data-image');
    await dataImageLayout(layout);
    ok(['import', '-q', layout, 'data']);
  });
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('volume create, ls, inspect (labels, created-at), rm; create of an existing name leaves it as it is', () => {
    const before = Date.now();
    expect(ok(['volume', 'create', '--label', 'team=db', '--label', 'tier', 'labelled'])).toBe('labelled\n');
    expect(ok(['volume', 'create', 'labelled'])).toBe('labelled\n');
    const made = ok(['volume', 'create']).trim();
    expect(made).toMatch(HEX64);
    expect(ok(['volume', 'ls'])).toMatch(new RegExp(`^DRIVER\\s+VOLUME NAME\\nlocal\\s+${made}\\nlocal\\s+labelled\\n$`));
    const [v] = JSON.parse(ok(['volume', 'inspect', 'labelled'])) as Record<string, unknown>[];
    expect(v).toMatchObject({
      Name: 'labelled',
      Driver: 'local',
      Labels: { team: 'db', tier: '' },
      Mountpoint: path.join(volumesDir, 'labelled', '_data'),
      Scope: 'local',
    });
    expect(Date.parse(v.CreatedAt as string)).toBeGreaterThanOrEqual(before - 1000);
    expect(fs.statSync(v.Mountpoint as string).isDirectory()).toBe(true);
    expect(ok(['volume', 'rm', 'labelled', made])).toBe(`labelled\n${made}\n`);
    expect(fs.existsSync(path.join(volumesDir, 'labelled'))).toBe(false);
    const missing = tcr(['volume', 'rm', 'labelled']);
    expect([missing.status, missing.stderr]).toEqual([125, 'tcr: no such volume: labelled\n']);
    expect(ok(['volume', 'rm', '-f', 'labelled'])).toBe('');
    const bad = tcr(['volume', 'create', 'a/b']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(
      /"a\/b" includes invalid characters for a local volume name, only "\[a-zA-Z0-9\]\[a-zA-Z0-9_.-\]" are allowed/,
    );
    expect(tcr(['volume', 'inspect', 'nope']).stderr).toBe('tcr: no such volume: nope\n');
  });

  it("-v NAME:/path makes the volume and fills it with the image's content there: owners, modes, symlinks, whiteouts", () => {
    const out = ok([
      'run',
      '--rm',
      '-v',
      'filled:/srv/data',
      'data',
      'sh',
      '-c',
      "grep ' /srv/data ' /proc/self/mountinfo; cd /srv/data; ls -A; stat -c '%n %u:%g %a' . owned sub sub/deep top; readlink link; cat owned",
    ]);
    const [mountLine, ...rest] = out.split('\n');
    expect(mountLine.split(' ').slice(3, 6)).toEqual([path.join(volumesDir, 'filled', '_data'), '/srv/data', 'rw,relatime']);
    expect(rest.join('\n')).toBe(
      [
        'link',
        'owned',
        'sub',
        'top',
        '. 1000:1000 750',
        'owned 1000:2000 640',
        'sub 7:8 700',
        'sub/deep 0:0 600',
        'top 0:0 4755',
        'owned',
        'owned',
        '',
      ].join('\n'),
    );
    expect(volumes()).toEqual(['filled']);
    expect(fs.lstatSync(path.join(volumesDir, 'filled', '_data', 'link')).isSymbolicLink()).toBe(true);
  });

  it('data persists across containers; a volume that holds anything is not filled again', () => {
    ok(['run', '--rm', '-v', 'kept:/srv/data', 'data', 'sh', '-c', 'rm /srv/data/owned; echo first > /srv/data/note']);
    // mounted elsewhere, by another container: what the first left, and not the image's files back
    expect(ok(['run', '--rm', '-v', 'kept:/elsewhere', 'data', 'sh', '-c', 'cat /elsewhere/note; ls /elsewhere'])).toBe(
      'first\nlink\nnote\nsub\ntop\n',
    );
    expect(ok(['run', '--rm', '-v', 'kept:/srv/data', 'data', 'ls', '/srv/data'])).toBe('link\nnote\nsub\ntop\n');
    // an empty volume at a path the image does not have stays empty
    expect(ok(['run', '--rm', '-v', 'bare:/nothing/here', 'data', 'ls', '-A', '/nothing/here'])).toBe('');
    ok(['volume', 'rm', 'kept', 'bare', 'filled']);
  });

  it(':ro and readonly are read-only in the container; nocopy and volume-nocopy leave the volume empty', () => {
    for (const flags of [
      ['-v', 'ro-vol:/srv/data:ro'],
      ['--mount', 'type=volume,src=ro-vol,dst=/srv/data,ro'],
    ]) {
      const r = tcr([
        'run',
        '--rm',
        ...flags,
        'data',
        'sh',
        '-c',
        "cat /srv/data/owned; touch /srv/data/x; grep ' /srv/data ' /proc/self/mountinfo | cut -d' ' -f6",
      ]);
      expect(r.stdout, flags.join(' ')).toBe('owned\nro,relatime\n');
      expect(r.stderr).toBe('touch: /srv/data/x: Read-only file system\n');
    }
    expect(ok(['run', '--rm', '-v', 'empty-a:/srv/data:nocopy', 'data', 'ls', '-A', '/srv/data'])).toBe('');
    expect(ok(['run', '--rm', '--mount', 'source=empty-b,target=/srv/data,volume-nocopy', 'data', 'ls', '-A', '/srv/data'])).toBe('');
    expect(fs.readdirSync(path.join(volumesDir, 'empty-a', '_data'))).toEqual([]);
    ok(['volume', 'rm', 'ro-vol', 'empty-a', 'empty-b']);
  });

  it('volume rm of a volume a container uses is refused naming it, -f too, stopped or running; after tcr rm it goes', async () => {
    ok(['run', '--name', 'holder', '-v', 'held:/srv/data', 'data', 'true']);
    ok(['run', '-d', '--name', 'runner', '-v', 'busy:/b', 'data', 'sleep', '60']);
    for (const [vol, c] of [
      ['held', 'holder'],
      ['busy', 'runner'],
    ]) {
      for (const f of [[], ['-f']]) {
        const r = tcr(['volume', 'rm', ...f, vol]);
        expect(r.status).toBe(125);
        expect(r.stderr).toBe(`tcr: remove ${vol}: volume is in use by container ${c} (tcr rm ${c} first)\n`);
      }
    }
    expect(ok(['volume', 'prune', '-f', '-a'])).toBe('');
    expect(volumes()).toEqual(['busy', 'held']);
    ok(['rm', 'holder']);
    ok(['rm', '-f', 'runner']);
    await waitFor(() => !states().includes('runner'), 5000, 'runner removed');
    // tcr rm without -v: the named volumes stay, now free to remove
    expect(volumes()).toEqual(['busy', 'held']);
    expect(ok(['volume', 'rm', 'busy', 'held'])).toBe('busy\nheld\n');
  });

  it('anonymous volumes (-v /path, --mount without source): tcr rm keeps them, rm -v removes them and only them', () => {
    ok([
      'run',
      '--name',
      'anon1',
      '-v',
      '/cache',
      '--mount',
      'type=volume,dst=/other',
      '-v',
      'named1:/named',
      'data',
      'sh',
      '-c',
      'echo x > /cache/f; echo y > /named/f',
    ]);
    const made = anonymous();
    expect(made).toHaveLength(2);
    ok(['run', '--name', 'anon2', '-v', '/cache2', 'data', 'true']);
    const second = anonymous().filter((v) => !made.includes(v));
    expect(second).toHaveLength(1);
    ok(['rm', 'anon2']);
    expect(anonymous().sort()).toEqual([...made, ...second].sort());
    expect(ok(['rm', '-v', 'anon1'])).toBe('anon1\n');
    expect(anonymous()).toEqual(second);
    expect(volumes()).toContain('named1');
    // prune: the unused anonymous ones; -a: the named ones too
    expect(ok(['volume', 'prune', '-f'])).toBe(`Deleted Volumes:\n${second[0]}\n`);
    expect(ok(['volume', 'prune', '-f', '-a'])).toBe('Deleted Volumes:\nnamed1\n');
    expect(volumes()).toEqual([]);
  });

  it('run --rm removes its anonymous volumes and never its named ones, -d --rm too (its reaper)', async () => {
    ok(['run', '--rm', '-v', '/scratch', '-v', 'stays:/s', 'data', 'sh', '-c', 'echo kept > /s/f']);
    expect(volumes()).toEqual(['stays']);
    const id = ok(['run', '-d', '--rm', '-v', '/scratch', '-v', 'stays:/s', 'data', 'sh', '-c', 'sleep 0.3']).trim();
    expect(anonymous()).toHaveLength(1);
    await waitFor(
      () => !states().includes(id) && anonymous().length === 0,
      10_000,
      'reaper removed the container and its anonymous volume',
    );
    expect(volumes()).toEqual(['stays']);
    expect(fs.readFileSync(path.join(volumesDir, 'stays', '_data', 'f'), 'utf8')).toBe('kept\n');
    ok(['volume', 'rm', 'stays']);
  });

  it('relative binds: ./dir and ../dir from the working directory; a name without a slash is a volume', () => {
    const work = path.join(sb.dir, 'work');
    fs.mkdirSync(path.join(work, 'dir'), { recursive: true });
    fs.writeFileSync(path.join(work, 'dir', 'f'), 'host\n');
    const cwd = { cwd: work };
    expect(ok(['run', '--rm', '-v', './dir:/x:ro', 'data', 'cat', '/x/f'], cwd)).toBe('host\n');
    expect(ok(['run', '--rm', '-v', '../dir:/x', 'data', 'cat', '/x/f'], { cwd: path.join(work, 'dir') })).toBe('host\n');
    expect(ok(['run', '--rm', '--mount', 'type=bind,src=./dir,dst=/x', 'data', 'cat', '/x/f'], cwd)).toBe('host\n');
    expect(ok(['run', '--rm', '-v', 'dir:/x', 'data', 'ls', '-A', '/x'], cwd)).toBe('');
    expect(volumes()).toEqual(['dir']);
    ok(['volume', 'rm', 'dir']);
  });

  it('--mount type=bind with bind-propagation, type=tmpfs with tmpfs-size and tmpfs-mode', () => {
    const host = path.join(sb.dir, 'bind-src');
    fs.mkdirSync(host);
    const bind = ok([
      'run',
      '--rm',
      '--mount',
      `type=bind,source=${host},target=/b,readonly`,
      'data',
      'sh',
      '-c',
      "grep ' /b ' /proc/self/mountinfo",
    ]);
    expect(bind.split(' ').slice(3, 6)).toEqual([host, '/b', 'ro,relatime']);
    const shared = ok([
      'run',
      '--rm',
      '--mount',
      `type=bind,src=${host},dst=/b,bind-propagation=rshared`,
      'data',
      'sh',
      '-c',
      "grep ' /b ' /proc/self/mountinfo",
    ]);
    expect(shared).toMatch(/ shared:\d+/);
    const t = ok([
      'run',
      '--rm',
      '--mount',
      'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770',
      'data',
      'sh',
      '-c',
      "grep ' /t ' /proc/self/mountinfo; stat -c %a /t",
    ]);
    expect(t).toMatch(/ \/t rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=1024k,mode=1770\n1770\n$/);
  });

  it('a bad -v or --mount fails with 125 naming the flag and the key, and makes nothing', () => {
    const cases: [string[], string][] = [
      [['--mount', 'type=volume,foo=1,dst=/x'], 'tcr: --mount "type=volume,foo=1,dst=/x": unknown key "foo"'],
      [['--mount', 'type=bind,dst=/x'], 'tcr: --mount "type=bind,dst=/x": source is required for type=bind'],
      [['--mount', 'type=bind,src=/no/such,dst=/x'], 'tcr: --mount "type=bind,src=/no/such,dst=/x": /no/such does not exist'],
      [
        ['--mount', 'src=v1,dst=/x,tmpfs-size=1m'],
        'tcr: --mount "src=v1,dst=/x,tmpfs-size=1m": tmpfs-size is only for type=tmpfs, not type=volume',
      ],
      [['-v', 'a/b:/x'], 'tcr: -v "a/b:/x": "a/b" includes invalid characters for a local volume name'],
      [['-v', 'v1:/x', '-v', 'v2:/x'], 'tcr: -v "v2:/x": duplicate mount point /x (also -v "v1:/x")'],
    ];
    for (const [flags, message] of cases) {
      const r = tcr(['run', '--rm', '--name', 'refused', ...flags, 'data', 'true']);
      expect(r.status, flags.join(' ')).toBe(125);
      expect(r.stderr.startsWith(message), r.stderr).toBe(true);
    }
    expect(volumes()).toEqual([]);
    expect(states()).toEqual([]);
  });

  it('a run that fails after its volumes were made removes those it made, leaves an existing one as it was', () => {
    ok(['volume', 'create', 'was-empty']);
    ok(['run', '--rm', '-v', 'was-full:/w', 'data', 'sh', '-c', 'echo mine > /w/f']);
    const r = tcr([
      'run',
      '--rm',
      '--network',
      'no-such-net',
      '-v',
      'fresh:/srv/data',
      '-v',
      'was-empty:/srv/data/sub',
      '-v',
      'was-full:/w',
      '-v',
      '/anon',
      'data',
      'true',
    ]);
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/no-such-net/);
    expect(volumes()).toEqual(['was-empty', 'was-full']);
    expect(fs.readdirSync(path.join(volumesDir, 'was-empty', '_data'))).toEqual([]);
    expect(fs.statSync(path.join(volumesDir, 'was-empty', '_data')).mode & 0o7777).toBe(0o755);
    expect(fs.readdirSync(path.join(volumesDir, 'was-full', '_data'))).toEqual(['f']);
    expect(fs.readdirSync(path.join(store, 'containers'))).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    ok(['volume', 'rm', 'was-empty', 'was-full']);
  });
});
