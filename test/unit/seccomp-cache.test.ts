// The compiled-filter cache: a hit only for exactly the same profile (the
// file holds the whole key; its name is just a hash of it).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Seccomp } from '../../src/spec/types.js';
import { lacks } from '../helpers.js';

const haveLib = await import('../../src/linux/seccomp.js').then(
  () => true,
  () => false,
);
const { compileSeccompCached } = await import('../../src/linux/seccomp-cache.js');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-seccomp-cache-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const profile = (errno: number): Seccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64'],
  syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: errno }],
});

describe.skipIf(lacks(haveLib))('compileSeccompCached', () => {
  it('compiles once, then serves the same bytes from the cache', async () => {
    const first = await compileSeccompCached(profile(13), dir);
    expect(first.description).not.toMatch(/cached/);
    const again = await compileSeccompCached(profile(13), dir);
    expect(again.description).toMatch(/\(cached\)$/);
    expect(again.filter.equals(first.filter)).toBe(true);
    expect(again.flags).toBe(first.flags);
  });

  it('does not hand out the filter of another profile', async () => {
    const a = await compileSeccompCached(profile(1), dir);
    const b = await compileSeccompCached(profile(2), dir);
    expect(b.description).not.toMatch(/cached/);
    expect(b.filter.equals(a.filter)).toBe(false);
  });

  it('recompiles when the file under the hash holds another key (a collision or a stale file)', async () => {
    const p = profile(5);
    const real = await compileSeccompCached(p, dir);
    const file = fs
      .readdirSync(dir)
      .map((f) => path.join(dir, f))
      .find((f) => JSON.parse(fs.readFileSync(f, 'utf8')).key.includes('"errnoRet":5'));
    expect(file).toBeDefined();
    const entry = JSON.parse(fs.readFileSync(file!, 'utf8'));
    fs.writeFileSync(
      file!,
      JSON.stringify({ ...entry, key: entry.key.replace('"errnoRet":5', '"errnoRet":6'), filter: Buffer.from('bogus').toString('base64') }),
    );
    const got = await compileSeccompCached(p, dir);
    expect(got.description).not.toMatch(/cached/);
    expect(got.filter.equals(real.filter)).toBe(true);
  });
});
