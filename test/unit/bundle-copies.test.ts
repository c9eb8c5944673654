// dist/ holds several bundles (CLI, image side, pull side), each with its own
// copy of the modules they share. Two fresh imports of a module stand in for
// two bundles here: an error made by one copy must be a TcrError to the other,
// and --log/--debug set through one copy must hold for all.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';

async function freshCopy<T>(specifier: string): Promise<T> {
  vi.resetModules();
  return (await import(specifier)) as T;
}

type Errors = typeof import('../../src/errors.js');
type Log = typeof import('../../src/log.js');

describe('modules shared by several bundles', () => {
  it('a TcrError of one copy is a TcrError to another; subclasses and plain errors are told apart', async () => {
    const a = await freshCopy<Errors>('../../src/errors.js');
    const b = await freshCopy<Errors>('../../src/errors.js');
    expect(a.TcrError).not.toBe(b.TcrError);
    const fromB = new b.TcrError('from the other bundle', 125);
    expect(fromB instanceof a.TcrError).toBe(true);
    expect(new b.SpecError('process.args', 'missing') instanceof a.TcrError).toBe(true);
    expect(new Error('plain') instanceof a.TcrError).toBe(false);
    expect({ message: 'look-alike', exitCode: 1 } instanceof a.TcrError).toBe(false);
    expect((null as unknown) instanceof a.TcrError).toBe(false);
    // a subclass keeps the ordinary check
    expect(new a.SpecError('x', 'y') instanceof a.SpecError).toBe(true);
    expect(new a.TcrError('x') instanceof a.SpecError).toBe(false);
    expect(fromB.exitCode).toBe(125);
  });

  it('--log configured through one copy of the logger is where every copy writes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-log-copies-'));
    const file = path.join(dir, 'log.json');
    const a = await freshCopy<Log>('../../src/log.js');
    const b = await freshCopy<Log>('../../src/log.js');
    try {
      a.configureLog({ file, format: 'json' });
      b.log.info('from the image bundle');
      const records = fs
        .readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { level: string; msg: string });
      expect(records).toEqual([expect.objectContaining({ level: 'info', msg: 'from the image bundle' })]);
    } finally {
      a.configureLog({ file: undefined, format: 'text' });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
