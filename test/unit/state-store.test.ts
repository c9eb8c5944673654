// The state directory's claim and removal (src/container/state-store.ts):
// a command opening a container's lock while `delete` removes it must find
// it gone, and a directory left without a record must not hold its id.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ContainerLock } from '../../src/container/lock.js';
import { StateStore } from '../../src/container/state-store.js';

const roots: string[] = [];
function store(): StateStore {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-state-'));
  roots.push(root);
  return new StateStore(root);
}
afterEach(() => {
  vi.restoreAllMocks();
  for (const r of roots.splice(0)) fs.rmSync(r, { recursive: true, force: true });
});

function record(s: StateStore, id: string): void {
  fs.writeFileSync(s.stateFile(id), JSON.stringify({ id }));
}

describe('StateStore', () => {
  it('a command that opens the lock while remove empties the directory finds it gone, and nothing is left', () => {
    const s = store();
    s.claim('c1').release();
    record(s, 'c1');
    let raced: ContainerLock | null | undefined;
    const rmdir = fs.rmdirSync.bind(fs);
    // the moment that used to lose: the directory's files unlinked, its rmdir not yet done
    vi.spyOn(fs, 'rmdirSync').mockImplementation((p, o) => {
      if (raced === undefined) raced = ContainerLock.acquire(s.dir('c1'));
      return rmdir(p, o);
    });
    s.remove('c1');
    expect(raced).toBeNull();
    expect(fs.readdirSync(s.root)).toEqual([]);
  });

  it('a directory with only a lock (a create killed before its record) does not hold the id', () => {
    const s = store();
    fs.mkdirSync(s.dir('c2'));
    fs.writeFileSync(path.join(s.dir('c2'), 'lock'), '');
    const lock = s.claim('c2');
    record(s, 'c2');
    lock.release();
    expect(() => s.claim('c2')).toThrow('container with id c2 already exists');
  });

  it('what a removal killed half-way left is removed by the next one', () => {
    const s = store();
    const left = path.join(s.root, '.removing-4194305-old');
    fs.mkdirSync(left);
    fs.writeFileSync(path.join(left, 'state.json'), '{}');
    s.claim('c3').release();
    s.remove('c3');
    expect(fs.readdirSync(s.root)).toEqual([]);
    expect(s.ids()).toEqual([]);
  });
});
