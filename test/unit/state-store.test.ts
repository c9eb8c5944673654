// The state directory's claim and removal (src/container/state-store.ts):
// a command opening a container's lock while `delete` removes it must find
// it gone, and a directory left without a record must not hold its id.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ContainerLock } from '../../src/container/lock.js';
import { StateStore, type ContainerRecord } from '../../src/container/state-store.js';
import { native } from '../../src/sys/native.js';

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

  it('a directory without a record (a create killed before it) does not hold the id, with or without its lock file', () => {
    const s = store();
    for (const id of ['c2', 'c2old']) {
      fs.mkdirSync(s.dir(id));
      if (id === 'c2old') fs.writeFileSync(path.join(s.dir(id), 'lock'), '');
      const lock = s.claim(id);
      record(s, id);
      lock.release();
      expect(() => s.claim(id)).toThrow(`container with id ${id} already exists`);
    }
  });

  it("a held lock's fd is listed for launches to keep from containers, and no longer once released", () => {
    const s = store();
    const lock = s.claim('c4');
    const [fd] = ContainerLock.heldFds().slice(-1);
    expect(fs.readlinkSync(`/proc/self/fd/${fd}`)).toBe(path.join(s.dir('c4'), 'lock'));
    lock.release();
    expect(ContainerLock.heldFds()).not.toContain(fd);
  });

  it('a second lock of one container in one process is refused, where flock would wait for ever', () => {
    const s = store();
    const lock = s.claim('c6');
    expect(() => ContainerLock.acquire(s.dir('c6'))).toThrow('container c6: another call of this process is changing it');
    lock.release();
    const again = ContainerLock.acquire(s.dir('c6'));
    expect(again).not.toBeNull();
    again!.release();
  });

  it("a command that waited while the container was removed and made anew under its id does not get the new one's lock", () => {
    const s = store();
    s.claim('c5').release();
    const n = native();
    const flock = n.flock.bind(n);
    // while this command waits in flock: a delete removes c5, a create makes c5 again
    vi.spyOn(n, 'flock').mockImplementationOnce((fd, exclusive, nonblocking) => {
      s.remove('c5');
      fs.mkdirSync(s.dir('c5'));
      return flock(fd, exclusive, nonblocking);
    });
    expect(ContainerLock.acquire(s.dir('c5'))).toBeNull();
    const again = ContainerLock.acquire(s.dir('c5'));
    expect(again).not.toBeNull();
    again!.release();
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

describe('the config apart from the record', () => {
  const spec = { ociVersion: '1.0.2', hostname: 'h', linux: { resources: { pids: { limit: 5 } } } };
  function created(s: StateStore, id: string) {
    s.claim(id).release();
    const rec = {
      ociVersion: '1.0.2',
      id,
      bundle: '/b',
      rootfs: '/b/rootfs',
      phase: 'created',
      pid: 0,
      startTime: '',
      created: 'now',
      owner: 'root',
      config: structuredClone(spec),
    } as unknown as ContainerRecord;
    s.write(rec);
    return rec;
  }

  it('state.json holds no config, config.json holds it; read gives it back, summary leaves it unread', () => {
    const s = store();
    created(s, 'c1');
    expect(JSON.parse(fs.readFileSync(s.stateFile('c1'), 'utf8')).config).toBeUndefined();
    expect(JSON.parse(fs.readFileSync(s.configFile('c1'), 'utf8'))).toEqual(spec);
    expect(s.read('c1').config).toEqual(spec);
    const readFile = vi.spyOn(fs, 'readFileSync');
    expect(s.summary('c1')).not.toHaveProperty('config');
    expect(readFile.mock.calls.map((c) => String(c[0]))).toEqual([s.stateFile('c1')]);
  });

  it('a record written again without its config read leaves config.json alone; a changed config is written', () => {
    const s = store();
    created(s, 'c1');
    fs.writeFileSync(s.configFile('c1'), JSON.stringify({ marker: 1 }));
    const rec = s.read('c1');
    rec.phase = 'creating';
    s.write(rec);
    expect(JSON.parse(fs.readFileSync(s.configFile('c1'), 'utf8'))).toEqual({ marker: 1 });
    expect(s.read('c1').phase).toBe('creating');
    const again = s.read('c1');
    (again.config as unknown as { marker: number }).marker = 2; // as `update` edits linux.resources
    s.write(again);
    expect(JSON.parse(fs.readFileSync(s.configFile('c1'), 'utf8'))).toEqual({ marker: 2 });
    const replaced = s.read('c1');
    replaced.config = structuredClone(spec);
    s.write(replaced);
    expect(s.read('c1').config).toEqual(spec);
  });

  it("an earlier tcr's record, config inside, reads as before and is split at its next write", () => {
    const s = store();
    s.claim('old').release();
    fs.writeFileSync(s.stateFile('old'), JSON.stringify({ id: 'old', pid: 0, config: spec }));
    const rec = s.read('old');
    expect(rec.config).toEqual(spec);
    s.write(rec);
    expect(JSON.parse(fs.readFileSync(s.stateFile('old'), 'utf8'))).toEqual({ id: 'old', pid: 0 });
    expect(s.read('old').config).toEqual(spec);
  });

  it('a missing or corrupt config.json is named when the config is used', () => {
    const s = store();
    created(s, 'c1');
    fs.unlinkSync(s.configFile('c1'));
    expect(() => s.read('c1').config).toThrow(`${s.configFile('c1')}: cannot read the container's config: ENOENT`);
    fs.writeFileSync(s.configFile('c1'), '{');
    expect(() => s.read('c1').config).toThrow(`${s.configFile('c1')}: corrupt config file`);
    expect(s.summary('c1').id).toBe('c1');
  });
});
