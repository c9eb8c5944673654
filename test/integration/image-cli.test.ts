// The image commands as a shell user runs them: tcr load, import, images,
// tag, rmi and pull (from a private registry), with docker's output, and
// clear errors. The store is private to this file (TCR_STORE).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TCR, lacks } from '../helpers.js';
import { buildImage, listTree, writeDockerArchive, writeLayout, type BuiltImage } from '../image-fixtures.js';
import { TestRegistry, ensureRegistryTools } from './registry-lib.js';

const noRegistry = ensureRegistryTools();

const top = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-image-cli-'));
const storeDir = path.join(top, 'store');
const reg = new TestRegistry(path.join(top, 'registry'));

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs tcr asynchronously (the registry's clients in this process must keep running). */
function tcr(args: string[]): Promise<Out> {
  return new Promise((resolve) => {
    const p = spawn(TCR, args, {
      env: { ...process.env, TCR_STORE: storeDir, TCR_REGISTRIES: 'docker.io' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

let a: BuiltImage;
let b: BuiltImage;

afterAll(async () => {
  await reg.stop();
  fs.rmSync(top, { recursive: true, force: true });
});

describe('image commands', () => {
  beforeAll(async () => {
    a = await buildImage({ compress: 'none', layers: [[{ name: 'base', content: 'base' }], [{ name: 'a', content: 'a' }]] });
    b = await buildImage({ layers: [[{ name: 'b', content: 'b' }]] });
    if (!noRegistry) await reg.start();
  }, 120_000);

  it('lists an empty store', async () => {
    const r = await tcr(['images']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\n$/);
  });

  it('loads a docker-archive and imports an OCI layout', async () => {
    const file = path.join(top, 'save.tar');
    await writeDockerArchive(file, [{ img: a, repoTags: ['alpha:1'] }]);
    const l = await tcr(['load', '-q', '-i', file]);
    expect(l).toMatchObject({ status: 0, stdout: 'Loaded image: docker.io/library/alpha:1\n' });
    const dir = path.join(top, 'layout');
    writeLayout(dir, [{ img: b, refName: 'v1' }]);
    const i = await tcr(['import', '-q', dir, 'bee:v1']);
    expect(i).toMatchObject({ status: 0, stdout: `${b.configDigest.slice(7)}\n` });
    const t = await tcr(['images']);
    expect(t.stdout).toMatch(new RegExp(`docker.io/library/alpha\\s+1\\s+${a.configDigest.slice(7, 19)}\\s+\\S.* ago\\s+[\\d.]+k?B\\n`));
    expect(t.stdout).toMatch(/docker.io\/library\/bee\s+v1\s+/);
    const j = JSON.parse((await tcr(['images', '--format', 'json'])).stdout) as { id: string; names: string[]; layers: string[] }[];
    expect(j.map((x) => x.id).sort()).toEqual([a.configDigest.slice(7), b.configDigest.slice(7)].sort());
    expect((await tcr(['images', '-q', 'bee'])).stdout).toBe(`${b.configDigest.slice(7, 19)}\n`);
  });

  it('tags and removes', async () => {
    expect((await tcr(['tag', 'alpha:1', 'localhost:5000/copy:2'])).status).toBe(0);
    expect((await tcr(['rmi', 'localhost:5000/copy:2'])).stdout).toBe('Untagged: localhost:5000/copy:2\n');
    const r = await tcr(['rmi', 'alpha:1', 'bee:v1']);
    expect(r.stdout).toBe(
      `Untagged: docker.io/library/alpha:1\nDeleted: ${a.configDigest}\nUntagged: docker.io/library/bee:v1\nDeleted: ${b.configDigest}\n`,
    );
    expect(listTree(path.join(storeDir, 'layers'))).toEqual(['sha256']);
  });

  it('explains bad input', async () => {
    // docker's commands: 125 for a failure of tcr's own, as docker and podman exit
    const bad = await tcr(['pull', 'Bad/Name']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/tcr: invalid image reference "Bad\/Name": repository names must be lowercase/);
    const gone = await tcr(['rmi', 'nothere']);
    expect(gone.stderr).toMatch(/image "nothere" is not in the image store/);
    expect(gone.status).toBe(125);
    const notar = await tcr(['load', '-i', path.join(top, 'none.tar')]);
    expect(notar.stderr).toMatch(/none.tar: no such file/);
    expect(notar.status).toBe(125);
    const flag = await tcr(['images', '--qiet']);
    expect(flag).toMatchObject({ status: 125, stderr: "tcr: unknown option '--qiet' (did you mean --quiet?)\nSee 'tcr images --help'.\n" });
  });

  it.skipIf(lacks(!noRegistry))('pulls from a registry with plain progress lines off a terminal', async () => {
    const dir = path.join(top, 'push');
    writeLayout(dir, [{ img: b, refName: 'x' }]);
    await reg.push(dir, 'x', 'cli/img:1');
    const r = await tcr(['pull', `${reg.host}/cli/img:1`]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${b.configDigest.slice(7)}\n`);
    expect(r.stderr).toContain(`Pulling ${reg.host}/cli/img:1`);
    expect(r.stderr).toMatch(/Copying blob [a-f0-9]{12} \(\d+B\)\n[a-f0-9]{12}: Pull complete/);
    const again = await tcr(['pull', `${reg.host}/cli/img:1`]);
    expect(again.stderr).toMatch(/[a-f0-9]{12}: Already exists/);
    expect((await tcr(['images', '-q'])).stdout).toBe(`${b.configDigest.slice(7, 19)}\n`);
  });
});
