// bin/tcr.cjs learnCaches: after a command's first success, each bundle it
// loaded gets its V8 code cache taken again and the command is noted for that
// build; a noted command, a cache V8 refused, a rebuilt bundle and a
// directory that cannot be written each do what the loader's comment says.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO } from '../helpers.js';

type Scripts = Map<string, { script: vm.Script; cached: boolean; build: string }>;
const loader = createRequire(import.meta.url)(path.join(REPO, 'bin', 'tcr.cjs')) as {
  learnCaches(dir: string, command: string, scripts: Scripts): void;
};

let dir: string;
let file: string;
const notes = () =>
  JSON.parse(fs.readFileSync(path.join(dir, '.learned.json'), 'utf8')) as Record<string, { build: string; commands: string[] }>;
/** The loader's record of a bundle: which build of it (its size and mtime, as loadBundle notes them). */
const buildOf = (f: string) => {
  const st = fs.statSync(f);
  return `${st.size}:${st.mtimeMs}`;
};
const compiled = (cached: boolean): Scripts => {
  const script = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file });
  (script.runInThisContext() as () => number)();
  return new Map([[file, { script, cached, build: buildOf(file) }]]);
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-learn-'));
  file = path.join(dir, 'b.cjs');
  fs.writeFileSync(file, '(function () { return [1, 2, 3].map((n) => n * 2).length; })');
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('learnCaches', () => {
  it('takes the cache after the first success of a command and notes it for this build of the bundle', () => {
    loader.learnCaches(dir, 'create', compiled(true));
    const cache = fs.readFileSync(`${file}.cache`);
    expect(cache.length).toBeGreaterThan(0);
    // V8 takes what was written
    const again = new vm.Script(fs.readFileSync(file, 'latin1'), { filename: file, cachedData: cache });
    expect(again.cachedDataRejected).toBe(false);
    const st = fs.statSync(file);
    expect(notes()).toEqual({ 'b.cjs': { build: `${st.size}:${st.mtimeMs}`, commands: ['create b.cjs'] } });
    expect(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('leaves a noted command alone, and adds a new one', () => {
    loader.learnCaches(dir, 'create', compiled(true));
    fs.rmSync(`${file}.cache`);
    loader.learnCaches(dir, 'create', compiled(true));
    expect(fs.existsSync(`${file}.cache`)).toBe(false);
    loader.learnCaches(dir, 'run', compiled(true));
    expect(fs.existsSync(`${file}.cache`)).toBe(true);
    expect(notes()['b.cjs'].commands).toEqual(['create b.cjs', 'run b.cjs']);
  });

  it("tells one name's command lines apart by the bundles they loaded (runc's run ID, docker's run IMAGE)", () => {
    loader.learnCaches(dir, 'run', compiled(true));
    const other = path.join(dir, 'images.cjs');
    fs.writeFileSync(other, '(function () { return 5; })');
    const script = new vm.Script(fs.readFileSync(other, 'latin1'), { filename: other });
    loader.learnCaches(dir, 'run', new Map([...compiled(true), [other, { script, cached: false, build: buildOf(other) }]]));
    expect(notes()['b.cjs'].commands).toEqual(['run b.cjs', 'run b.cjs images.cjs']);
    expect(notes()['images.cjs'].commands).toEqual(['run b.cjs images.cjs']);
  });

  it('starts over for a cache V8 refused or a bundle rebuilt since', () => {
    loader.learnCaches(dir, 'create', compiled(true));
    loader.learnCaches(dir, 'run', compiled(false));
    expect(notes()['b.cjs'].commands).toEqual(['run b.cjs']);
    fs.writeFileSync(file, '(function () { return 4; })');
    loader.learnCaches(dir, 'run', compiled(true));
    const st = fs.statSync(file);
    expect(notes()['b.cjs']).toEqual({ build: `${st.size}:${st.mtimeMs}`, commands: ['run b.cjs'] });
  });

  it('a write that fails (a directory it cannot write: rootless, a read-only install) throws nothing and changes nothing', () => {
    loader.learnCaches(dir, 'create', compiled(true));
    const before = fs.readFileSync(`${file}.cache`);
    // where the new cache would be written first: a directory, so the write fails even for root
    fs.mkdirSync(`${file}.cache.${process.pid}.tmp`);
    expect(() => loader.learnCaches(dir, 'run', compiled(true))).not.toThrow();
    expect(fs.readFileSync(`${file}.cache`)).toEqual(before);
    expect(notes()['b.cjs'].commands).toEqual(['create b.cjs']);
  });
});
