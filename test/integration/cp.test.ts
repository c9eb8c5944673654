// tcr cp as docker's: both directions, a running container (its volumes
// too) and a stopped one (an overlay mounted for the copy, gone after),
// docker's path rules, -a and -L, tar streams on stdin and stdout; and the
// attacks: symlinks in the container pointing at the host's files or at
// '../../..', a tar with '..' entries or a symlink followed by a file
// "under" it, a symlinked destination directory. Sentinels on the host must
// stay untouched.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks, mountsUnder } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

async function tarOf(entries: { name: string; type?: 'file' | 'directory' | 'symlink'; content?: string; linkname?: string }[]) {
  const pack = tar.pack();
  for (const e of entries) {
    const h = { name: e.name, type: e.type ?? 'file', mode: e.type === 'directory' ? 0o755 : 0o644, linkname: e.linkname };
    if (h.type === 'file') pack.entry(h, e.content ?? '');
    else pack.entry(h);
  }
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr cp', () => {
  const sb = new Sandbox('tcr-cp');
  const store = path.join(sb.dir, 'store');
  const host = path.join(sb.dir, 'host');
  const sentinel = path.join(sb.dir, 'sentinel');
  const tcr = (args: string[], input?: Buffer) => sb.tcr(['--store', store, ...args], input ? { input } : {});
  const ok = (args: string[], input?: Buffer) => {
    const r = tcr(args, input);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.status, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const fails = (args: string[], message: RegExp, input?: Buffer) => {
    const r = tcr(args, input);
    expect(r.stderr, args.join(' ')).toMatch(message);
    expect(r.status, args.join(' ')).toBe(125);
  };
  const inLive = (script: string) => ok(['exec', 'live', 'sh', '-c', script]);
  const sentinelState = () => spawnSync('sh', ['-c', `cd ${sentinel} && find . | sort && cat secret`], { encoding: 'utf8' }).stdout;
  let before = '';

  beforeAll(() => {
    ok(['import', '-q', OCI, 'busybox']);
    fs.mkdirSync(path.join(host, 'tree', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(host, 'file.txt'), 'from the host\n');
    fs.writeFileSync(path.join(host, 'tree', 'a'), 'a\n');
    fs.writeFileSync(path.join(host, 'tree', 'sub', 'b'), 'b\n');
    fs.chownSync(path.join(host, 'tree', 'a'), 4321, 8765);
    fs.mkdirSync(sentinel);
    fs.writeFileSync(path.join(sentinel, 'secret'), 'host secret\n');
    before = sentinelState();
    const setup = [
      'echo made > /made',
      `ln -s ${sentinel}/secret /hostlink`,
      'ln -s /etc/shadow /shadowlink',
      'ln -s ../../../.. /up',
      `ln -s ${sentinel} /sentinel-link`,
      'ln -s /etc /linkdir',
      'mkdir -p /owned && echo o > /owned/f && chown -R 1234:5678 /owned',
    ].join('; ');
    ok(['run', '--network', 'none', '--name', 'dead', 'busybox', 'sh', '-c', setup]);
    ok(['run', '-d', '--network', 'none', '--name', 'live', '-v', 'cpvol:/vol', 'busybox', 'sh', '-c', `${setup}; sleep 600`]);
    for (let i = 0; i < 100 && tcr(['exec', 'live', 'test', '-e', '/owned/f']).status !== 0; i++) spawnSync('sleep', ['0.1']);
  }, 60_000);

  afterAll(() => {
    for (const id of ['live', 'dead']) tcr(['rm', '-f', id]);
    tcr(['volume', 'rm', '-f', 'cpvol']);
    sb.cleanup();
  });

  it('host to a running container: into a dir, to a new name, a dir made, a dir into a dir, /. contents', () => {
    ok(['cp', path.join(host, 'file.txt'), 'live:/tmp']);
    ok(['cp', path.join(host, 'file.txt'), 'live:/tmp/renamed']);
    ok(['cp', path.join(host, 'tree'), 'live:/newdir']);
    ok(['cp', path.join(host, 'tree'), 'live:/tmp']);
    ok(['cp', `${host}/tree/.`, 'live:/tmp']);
    expect(inLive('cat /tmp/file.txt /tmp/renamed; ls /newdir; ls /tmp/tree; cat /tmp/sub/b; stat -c %u:%g /tmp/tree/a')).toBe(
      'from the host\nfrom the host\na\nsub\na\nsub\nb\n0:0\n',
    );
  });

  it('-a keeps the owners, both ways; without it the destination gets root (in) or the caller (out)', () => {
    ok(['cp', '-a', path.join(host, 'tree'), 'live:/archived']);
    expect(inLive('stat -c %u:%g /archived/a')).toBe('4321:8765\n');
    ok(['cp', 'live:/owned', path.join(host, 'plain')]);
    ok(['cp', '-a', 'live:/owned', path.join(host, 'kept')]);
    expect(fs.statSync(path.join(host, 'plain', 'f')).uid).toBe(0);
    expect([fs.statSync(path.join(host, 'kept', 'f')).uid, fs.statSync(path.join(host, 'kept', 'f')).gid]).toEqual([1234, 5678]);
    expect(fs.readFileSync(path.join(host, 'kept', 'f'), 'utf8')).toBe('o\n');
  });

  it("docker's refusals: a dir onto a file, a missing dir named with '/', a file named as a dir, no such path, no container", () => {
    fails(['cp', path.join(host, 'tree'), 'live:/made'], /cannot copy a directory to a file/);
    fails(['cp', path.join(host, 'file.txt'), 'live:/nowhere/'], /no such directory/);
    fails(['cp', 'live:/made/', path.join(host, 'x')], /not a directory/);
    fails(['cp', 'live:/no/such', path.join(host, 'x')], /container live: \/no\/such: no such file or directory/);
    fails(['cp', path.join(host, 'file.txt'), 'ghost:/tmp'], /no such container: ghost/);
    fails(['cp', path.join(host, 'file.txt'), path.join(host, 'y')], /one of SRC and DEST must be a container path/);
    fails(['cp', 'live:/made', 'dead:/made'], /copying between containers is not supported/);
    expect(fs.existsSync(path.join(host, 'x'))).toBe(false);
  });

  it('tar streams: - as DEST writes a tar, - as SRC extracts one into a directory', async () => {
    const r = spawnSync(TCR, ['--root', sb.root, '--store', store, 'cp', 'live:/owned', '-'], { encoding: 'buffer' });
    expect(r.status).toBe(0);
    const listed = spawnSync('tar', ['-tvf', '-'], { input: r.stdout, encoding: 'utf8' }).stdout;
    expect(listed).toMatch(/^drwx.* 1234\/5678 .* owned\/\n-rw.* 1234\/5678 .* owned\/f\n$/);
    ok(['cp', '-', 'live:/tmp'], await tarOf([{ name: 'streamed/x', content: 'via stdin\n' }]));
    expect(inLive('cat /tmp/streamed/x')).toBe('via stdin\n');
    fails(['cp', '-', 'live:/made'], /must be an existing directory/, await tarOf([{ name: 'y' }]));
  });

  it('a stopped container: read and written through an overlay mounted for the copy and unmounted after', () => {
    ok(['cp', 'dead:/made', path.join(host, 'made')]);
    expect(fs.readFileSync(path.join(host, 'made'), 'utf8')).toBe('made\n');
    ok(['cp', path.join(host, 'file.txt'), 'dead:/etc/added']);
    ok(['cp', 'dead:/etc/added', path.join(host, 'added')]);
    expect(fs.readFileSync(path.join(host, 'added'), 'utf8')).toBe('from the host\n');
    // written into its upper dir, as a write of its own would be
    expect(fs.readFileSync(path.join(store, 'containers', 'dead', 'upper', 'etc', 'added'), 'utf8')).toBe('from the host\n');
    expect(mountsUnder(path.join(store, 'containers', 'dead'))).toEqual([]);
    expect(fs.readdirSync(path.join(store, 'containers', 'dead')).filter((f) => f.startsWith('cp-'))).toEqual([]);
  });

  it('volumes of a running container are part of its view', () => {
    ok(['cp', path.join(host, 'file.txt'), 'live:/vol/']);
    expect(fs.readFileSync(path.join(store, 'volumes', 'cpvol', '_data', 'file.txt'), 'utf8')).toBe('from the host\n');
  });

  it('symlinks in the container never lead to the host: copied as links, and with -L resolved inside the root', () => {
    for (const c of ['live', 'dead']) {
      const out = path.join(host, `links-${c}`);
      fs.mkdirSync(out);
      ok(['cp', `${c}:/hostlink`, out]);
      expect(fs.readlinkSync(path.join(out, 'hostlink'))).toBe(`${sentinel}/secret`);
      // -L: the container's own view of that path, which has no such file
      fails(['cp', '-L', `${c}:/hostlink`, path.join(out, 'followed')], /no such file or directory/);
      fails(['cp', '-L', `${c}:/shadowlink`, path.join(out, 'shadow')], /no such file or directory/);
      // ../../.. from / is / again: the container's passwd, not the host's
      ok(['cp', `${c}:/up/etc/passwd`, path.join(out, 'passwd')]);
      const passwd = fs.readFileSync(path.join(out, 'passwd'), 'utf8');
      expect(passwd).toBe(inLive('cat /etc/passwd'));
      expect(passwd).not.toBe(fs.readFileSync('/etc/passwd', 'utf8'));
      // a directory through a symlink to the host's sentinel: the container has no such directory
      fails(['cp', `${c}:/sentinel-link/.`, path.join(out, 'stolen')], /no such file or directory/);
      expect(fs.existsSync(path.join(out, 'stolen'))).toBe(false);
    }
    expect(sentinelState()).toBe(before);
  });

  it('a symlinked destination directory is resolved inside the container', () => {
    ok(['cp', path.join(host, 'file.txt'), 'live:/linkdir/']);
    expect(inLive('cat /etc/file.txt')).toBe('from the host\n');
    // the link names the host's sentinel: in the container there is no such directory, until it makes one
    fails(['cp', path.join(host, 'file.txt'), 'live:/sentinel-link/'], /no such directory/);
    inLive(`mkdir -p ${sentinel}`);
    ok(['cp', path.join(host, 'file.txt'), 'live:/up/../../sentinel-link/']);
    expect(inLive(`cat ${sentinel}/file.txt`)).toBe('from the host\n');
    expect(fs.existsSync('/etc/file.txt')).toBe(false);
    expect(sentinelState()).toBe(before);
  });

  it("a hostile tar on stdin: '..' entries and a symlink made a parent are refused, nothing written outside", async () => {
    const escape = path.relative('/tmp', sentinel);
    fails(['cp', '-', 'live:/tmp'], /'\.\.' component/, await tarOf([{ name: `../../../..${sentinel}/evil`, content: 'x' }]));
    fails(
      ['cp', '-', 'live:/tmp'],
      /is a symlink: refused as a parent/,
      await tarOf([
        { name: 'hop', type: 'symlink', linkname: sentinel },
        { name: 'hop/evil', content: 'x' },
      ]),
    );
    fails(
      ['cp', '-', 'dead:/'],
      /is a symlink: refused as a parent/,
      await tarOf([
        { name: 'sentinel-link/evil', content: 'x' },
        { name: escape, content: 'x' },
      ]),
    );
    // a symlink in a tar is written as a symlink, never through
    ok(['cp', '-', 'live:/tmp'], await tarOf([{ name: 'rel', type: 'symlink', linkname: '../../../..' }]));
    expect(inLive('readlink /tmp/rel')).toBe('../../../..\n');
    expect(sentinelState()).toBe(before);
    expect(mountsUnder(path.join(store, 'containers', 'dead'))).toEqual([]);
  });
});
