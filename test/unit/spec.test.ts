// `tcr spec` must write what `runc spec` writes, so bundles move between the
// two runtimes unchanged. Compared against the installed runc when there is one.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSpec } from '../../src/spec/defaults.js';
import { lacks } from '../helpers.js';

const runc = spawnSync('runc', ['--version'], { encoding: 'utf8' });
const hasRunc = runc.status === 0;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-spec-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function runcSpec(...args: string[]): { text: string; json: any } {
  const dir = fs.mkdtempSync(path.join(tmp, 'b-'));
  const r = spawnSync('runc', ['spec', ...args], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`runc spec ${args.join(' ')}: ${r.stderr}`);
  const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
  return { text, json: JSON.parse(text) };
}

/** What `tcr spec` writes (src/cli/spec.ts). */
const tcrText = (rootless = false) => JSON.stringify(defaultSpec({ rootless }), null, '\t');

describe.skipIf(lacks(hasRunc))(`defaultSpec() against ${runc.stdout?.split('\n')[0] ?? 'runc'}`, () => {
  it('deep-equals what `runc spec` writes', () => {
    expect(defaultSpec()).toEqual(runcSpec().json);
  });

  it('is byte-identical to `runc spec` as `tcr spec` writes it', () => {
    expect(tcrText()).toBe(runcSpec().text);
  });

  describe('--rootless', () => {
    const ours = defaultSpec({ rootless: true });
    const theirs = runcSpec('--rootless').json;

    it('has the same namespaces in the same order', () => {
      expect(ours.linux!.namespaces).toEqual(theirs.linux.namespaces);
    });

    it('maps the caller to root in the same shape', () => {
      expect(ours.linux!.uidMappings).toEqual(theirs.linux.uidMappings);
      expect(ours.linux!.gidMappings).toEqual(theirs.linux.gidMappings);
      expect(ours.linux!.uidMappings).toEqual([{ containerID: 0, hostID: process.geteuid!(), size: 1 }]);
    });

    it('has the same mounts', () => {
      expect(ours.mounts).toEqual(theirs.mounts);
    });

    it('drops resources as runc does', () => {
      expect(ours.linux!.resources).toBeUndefined();
      expect(theirs.linux.resources).toBeUndefined();
    });

    it('deep-equals the whole file, byte for byte', () => {
      expect(ours).toEqual(theirs);
      expect(tcrText(true)).toBe(runcSpec('--rootless').text);
    });
  });
});

describe('defaultSpec()', () => {
  it('returns a fresh object each call (callers edit it)', () => {
    const a = defaultSpec();
    a.process!.args!.push('x');
    a.mounts!.pop();
    a.process!.capabilities!.bounding!.push('CAP_SYS_ADMIN');
    expect(defaultSpec().process!.args).toEqual(['sh']);
    expect(defaultSpec().mounts).toHaveLength(7);
    expect(defaultSpec().process!.capabilities!.bounding).toHaveLength(3);
  });
});
