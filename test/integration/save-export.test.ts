// tcr export (a container's merged file system: its layers' whiteouts and
// opaque directories applied, its own changes in, its volumes out) and tcr
// save in both formats, loaded back by tcr load, and checked by the
// reference tools: podman load (a throwaway --root under the test's temp
// dir) of the docker-archive, skopeo copy of the oci-archive.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks, mountsUnder } from '../helpers.js';
import { buildImage, layoutLayers, writeLayout } from '../image-fixtures.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

function tarList(data: Buffer): string[] {
  const r = spawnSync('tar', ['-tf', '-'], { input: data, encoding: 'utf8', maxBuffer: 1 << 28 });
  return r.stdout.split('\n').filter(Boolean);
}

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr export and tcr save', () => {
  const sb = new Sandbox('tcr-save');
  const store = path.join(sb.dir, 'store');
  /** stdout as bytes: an archive */
  const tcrIn = (st: string, args: string[]) => {
    const r = spawnSync(TCR, ['--root', sb.root, '--store', st, ...args], { maxBuffer: 1 << 28, timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: String(r.stderr) };
  };
  const ok = (args: string[], st = store): string => {
    const r = sb.tcr(['--store', st, ...args]);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.status, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const fails = (args: string[], message: RegExp) => {
    const r = sb.tcr(['--store', store, ...args]);
    expect(r.stderr, args.join(' ')).toMatch(message);
    expect(r.status, args.join(' ')).toBe(125);
  };
  const check = 'cd /d; ls -A; ls -A o; stat -c "%h %a" f1 h; readlink ln; cat f1';
  const expected = 'f1\nh\nln\no\nnew\n2 640\n2 640\nf1\none\n';

  beforeAll(async () => {
    const lower = [
      { name: 'd/', type: 'directory' as const },
      { name: 'd/f1', content: 'one\n', mode: 0o640 },
      { name: 'd/f2', content: 'two\n' },
      { name: 'd/h', type: 'link' as const, linkname: 'd/f1' },
      { name: 'd/ln', type: 'symlink' as const, linkname: 'f1' },
      { name: 'd/o/', type: 'directory' as const },
      { name: 'd/o/old', content: 'hidden by the opaque dir above\n' },
    ];
    const upper = [
      { name: 'd/.wh.f2', content: '' },
      { name: 'd/o/', type: 'directory' as const },
      { name: 'd/o/.wh..wh..opq', content: '' },
      { name: 'd/o/new', content: 'new\n' },
    ];
    const img = await buildImage({ layers: [...layoutLayers(OCI), lower, upper], compress: 'none' });
    const layout = path.join(sb.dir, 'layout');
    writeLayout(layout, [{ img, refName: 'latest' }]);
    ok(['import', '-q', layout, 'layered']);
    ok([
      'run',
      '--network',
      'none',
      '--name',
      'changed',
      '-v',
      'savevol:/vol',
      'layered',
      'sh',
      '-c',
      'echo mine > /mine; rm /d/ln; echo v > /vol/v',
    ]);
  }, 60_000);

  afterAll(() => {
    for (const id of ['changed', 'running']) sb.tcr(['--store', store, 'rm', '-f', id]);
    sb.tcr(['--store', store, 'volume', 'rm', '-f', 'savevol']);
    sb.cleanup();
  });

  it('export of a stopped container: its layers merged with its changes, whiteouts applied, no volume, nothing left mounted', () => {
    const r = tcrIn(store, ['export', 'changed']);
    expect(r.status).toBe(0);
    const names = tarList(r.stdout);
    expect(names).toEqual(expect.arrayContaining(['mine', 'd/', 'd/f1', 'd/h', 'd/o/new', 'bin/busybox', 'vol/']));
    for (const gone of ['d/f2', 'd/ln', 'd/o/old', 'vol/v']) expect(names).not.toContain(gone);
    expect(names.filter((n) => n.includes('.wh.'))).toEqual([]);
    expect(mountsUnder(path.join(store, 'containers'))).toEqual([]);
    const file = path.join(sb.dir, 'export.tar');
    ok(['export', '-o', file, 'changed']);
    expect(tarList(fs.readFileSync(file))).toEqual(names);
  });

  it('export of a running container, and the refusals', () => {
    ok(['run', '-d', '--network', 'none', '--name', 'running', 'layered', 'sh', '-c', 'echo live > /live; sleep 600']);
    let names: string[] = [];
    for (let i = 0; i < 50 && !names.includes('live'); i++) names = tarList(tcrIn(store, ['export', 'running']).stdout);
    expect(names).toContain('live');
    expect(names).not.toContain('proc/self');
    fails(['export', 'ghost'], /no such container: ghost/);
    fails(['export', '-o', path.join(sb.dir, 'no', 'dir.tar'), 'changed'], /-o .*: cannot create it/);
  });

  it('save → tcr load, both formats: the same files, names and settings; a missing image fails the whole save', () => {
    const want = ok(['run', '--rm', '--network', 'none', 'layered', 'sh', '-c', check]);
    expect(want).toBe(expected);
    for (const format of ['docker-archive', 'oci-archive']) {
      const file = path.join(sb.dir, `${format}.tar`);
      ok(['save', '--format', format, '-o', file, 'layered']);
      const other = path.join(sb.dir, `store-${format}`);
      expect(ok(['load', '-q', '-i', file], other)).toBe('Loaded image: docker.io/library/layered:latest\n');
      expect(ok(['run', '--rm', '--network', 'none', 'layered', 'sh', '-c', check], other)).toBe(expected);
    }
    const list = tarList(fs.readFileSync(path.join(sb.dir, 'docker-archive.tar')));
    expect(list).toEqual(expect.arrayContaining(['manifest.json', 'repositories']));
    expect(list.filter((n) => n.endsWith('/layer.tar'))).toHaveLength(3);
    const out = path.join(sb.dir, 'never.tar');
    fails(['save', '-o', out, 'layered', 'nothere'], /image "nothere" is not in the image store/);
    expect(fs.existsSync(out)).toBe(false);
    fails(['save', '--format', 'zip', 'layered'], /--format/);
  });

  it.skipIf(lacks(has('podman')))('podman load takes the docker-archive, and runs it', () => {
    const file = path.join(sb.dir, 'docker-archive.tar');
    const proot = path.join(sb.dir, 'podman');
    const p = (args: string[]) =>
      spawnSync('podman', ['--runtime', 'runc', '--root', proot, '--runroot', `${proot}-run`, ...args], {
        encoding: 'utf8',
        timeout: 120_000,
      });
    try {
      const load = p(['load', '-i', file]);
      expect(load.stdout, load.stderr).toMatch(/Loaded image: docker.io\/library\/layered:latest/);
      const r = p([
        'run',
        '--rm',
        '--network',
        'none',
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        'docker.io/library/layered',
        'sh',
        '-c',
        check,
      ]);
      expect(r.stdout, r.stderr).toBe(expected);
    } finally {
      p(['rmi', '-a', '-f']);
      spawnSync('umount', ['-R', `${proot}/overlay`], { stdio: 'ignore' });
      fs.rmSync(proot, { recursive: true, force: true });
      fs.rmSync(`${proot}-run`, { recursive: true, force: true });
    }
  });

  it.skipIf(lacks(has('skopeo')))('skopeo copy takes the oci-archive', () => {
    const dest = path.join(sb.dir, 'skopeo-layout');
    const r = spawnSync(
      'skopeo',
      ['--insecure-policy', 'copy', '--quiet', `oci-archive:${path.join(sb.dir, 'oci-archive.tar')}`, `oci:${dest}:copied`],
      {
        encoding: 'utf8',
        timeout: 120_000,
      },
    );
    expect(r.status, r.stderr).toBe(0);
    const inspect = spawnSync('skopeo', ['inspect', `oci:${dest}:copied`], { encoding: 'utf8' });
    expect((JSON.parse(inspect.stdout) as { Layers: string[] }).Layers).toHaveLength(3);
    expect(ok(['import', '-q', `oci:${dest}:copied`, 'viaskopeo'], path.join(sb.dir, 'store-skopeo')).trim()).toMatch(/^[0-9a-f]{64}$/);
    expect(ok(['run', '--rm', '--network', 'none', 'viaskopeo', 'sh', '-c', check], path.join(sb.dir, 'store-skopeo'))).toBe(expected);
  });
});
