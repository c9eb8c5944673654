// What a docker user runs into with `tcr run IMAGE` and `tcr rmi` (issue 14):
// an image in use is never taken from its containers, bad --name and -m
// values are refused before anything exists, swap follows -m as in docker,
// and `run IMAGE` in a bundle directory still runs the image. On the demo
// busybox image, in a private store and state root.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const MEMORY_CGROUP = '/sys/fs/cgroup/memory';

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))("tcr run IMAGE: docker users' expectations", () => {
  const sb = new Sandbox('tcr-run-checks');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[], opts = {}) => sb.tcr(['--store', store, ...args], opts);
  const containers = () => (fs.existsSync(path.join(store, 'containers')) ? fs.readdirSync(path.join(store, 'containers')) : []);
  const layers = () => fs.readdirSync(path.join(store, 'layers', 'sha256'));
  const states = () => (fs.existsSync(sb.root) ? fs.readdirSync(sb.root).filter((d) => !d.startsWith('.')) : []);
  const importBusybox = () => expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);

  /** Nothing of a refused run: no container directory, state, mount or cgroup. */
  const expectNothingMade = (name?: string) => {
    expect(containers()).toEqual([]);
    expect(states()).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    if (name)
      for (const c of ['memory', 'pids', 'cpu'])
        expect(fs.existsSync(`/sys/fs/cgroup/${c}/tcr/${name}`), `${c} cgroup of ${name}`).toBe(false);
  };

  /** Each `run --name NAME FLAGS busybox true` exits 125 with its message and makes nothing. */
  const expectRefused = (name: string, cases: [string[], RegExp][]) => {
    for (const [flags, message] of cases) {
      const r = tcr(['run', '--rm', '--name', name, ...flags, 'busybox', 'true']);
      expect(r.status, flags.join(' ')).toBe(125);
      expect(r.stderr, flags.join(' ')).toMatch(message);
      expectNothingMade(name);
    }
  };

  beforeAll(importBusybox);
  afterAll(() => {
    for (const id of states()) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  describe('rmi of an image a container uses', () => {
    it('is refused, naming the container, while it runs; the container keeps its /bin', () => {
      expect(tcr(['run', '-d', '--name', 'user1', 'busybox', 'sleep', '300']).status).toBe(0);
      const r = tcr(['rmi', 'busybox']);
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(
        /^tcr: image \S*busybox:latest \([0-9a-f]{12}\) is in use by container user1: remove it first \(tcr rm -f user1\), or untag the image with rmi -f\n$/,
      );
      expect(r.stdout).toBe('');
      expect(tcr(['images']).stdout).toMatch(/busybox\s+latest/);
      expect(tcr(['exec', 'user1', 'ls', '/bin']).stdout).toMatch(/\bsh\b/);
    });

    it('is refused for a stopped container too', () => {
      expect(tcr(['run', '--name', 'user2', 'busybox', 'true']).status).toBe(0);
      const r = tcr(['rmi', 'busybox']);
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(/is in use by container user1 \(and 1 more: user2\)|is in use by container user2 \(and 1 more: user1\)/);
    });

    it('-f only untags: the layers stay for the containers, and go with the image once they are removed', () => {
      const before = layers();
      const id = JSON.parse(tcr(['images', '--format', 'json']).stdout)[0].id as string;
      const f = tcr(['rmi', '-f', 'busybox']);
      expect(f.status).toBe(0);
      expect(f.stdout).toMatch(/^Untagged: \S*busybox:latest\n$/);
      expect(tcr(['images']).stdout).toMatch(new RegExp(`<none>\\s+<none>\\s+${id.slice(0, 12)}`));
      expect(layers()).toEqual(before);
      expect(tcr(['exec', 'user1', 'ls', '/bin']).stdout).toMatch(/\bsh\b/);
      // still in use: even by id, even with -f
      const byId = tcr(['rmi', '-f', id]);
      expect(byId.status).toBe(125);
      expect(byId.stderr).toMatch(/has no names left and is in use by container user/);
      expect(layers()).toEqual(before);
      expect(tcr(['rm', '-f', 'user1', 'user2']).status).toBe(0);
      expect(containers()).toEqual([]);
      const gone = tcr(['rmi', id]);
      expect(gone).toMatchObject({ status: 0, stdout: `Deleted: sha256:${id}\n` });
      expect(layers()).toEqual([]);
      expect(fs.readdirSync(path.join(store, 'blobs', 'sha256'))).toEqual([]);
      importBusybox();
    });

    it('a container directory left by an earlier boot (its state gone) pins nothing, and tcr rm removes it', () => {
      const left = path.join(store, 'containers', 'leftover1');
      fs.mkdirSync(path.join(left, 'upper'), { recursive: true });
      const id = JSON.parse(tcr(['images', '--format', 'json']).stdout)[0];
      fs.writeFileSync(
        path.join(left, 'image.json'),
        JSON.stringify({ image: `sha256:${id.id}`, layers: id.layers, state: path.join(sb.root, 'leftover1'), boot: 'an earlier boot' }),
      );
      try {
        expect(tcr(['rm', 'leftover1'])).toMatchObject({ status: 0, stdout: 'leftover1\n' });
        expect(containers()).toEqual([]);
        expect(tcr(['rm', 'leftover1'])).toMatchObject({ status: 125, stderr: 'tcr: container leftover1 does not exist\n' });
      } finally {
        fs.rmSync(left, { recursive: true, force: true });
      }
    });
  });

  describe('bad input is refused before anything is made', () => {
    it("--name outside docker's rule", () => {
      for (const name of ['a/b', '..', 'a', '-x', 'a b']) {
        const r = tcr(['run', '--rm', '--name', name, 'busybox', 'true']);
        expect(r.status, name).toBe(125);
        expect(r.stderr, name).toBe(
          `tcr: --name: invalid container name (${name}): only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least 2 characters, the first a letter or digit\n`,
        );
        expectNothingMade();
      }
      // an empty --name is no name, as in docker and podman: an id is made up
      const empty = tcr(['run', '--rm', '--name', '', 'busybox', 'echo', 'ran']);
      expect(empty).toMatchObject({ status: 0, stdout: 'ran\n' });
      expectNothingMade();
    });

    it("-m below docker's 6 MiB minimum, and --memory-swap below -m or without it", () => {
      const cases: [string[], RegExp][] = [
        [['-m', '1k'], /^tcr: --memory: 1k \(1024 bytes\) is too small: the minimum memory limit is 6MB \(6291456 bytes\)\n$/],
        [['-m', '5m'], /--memory: 5m \(5242880 bytes\) is too small/],
        [['-m', '-1'], /--memory: "-1" is not a size/],
        [['-m', '10m', '--memory-swap', '5m'], /^tcr: --memory-swap 5m: must be at least the memory limit \(-m 10m\)/],
        [['--memory-swap', '10m'], /^tcr: --memory-swap 10m: needs a memory limit too/],
      ];
      expectRefused('memcheck', cases);
    });

    it('a flag the config is built from (-v, --cap-add, -u)', () => {
      const cases: [string[], RegExp][] = [
        [['-v', '/no/such/dir:/x'], /^tcr: -v "\/no\/such\/dir:\/x": \/no\/such\/dir does not exist\n$/],
        [['--cap-add', 'NOPE'], /^tcr: --cap-add\/--cap-drop: unknown capability "NOPE"\n$/],
        [['-u', 'nosuchuser'], /nosuchuser/],
      ];
      expectRefused('flagcheck', cases);
    });
  });

  describe('-m and swap as docker sets them', () => {
    const read = (flags: string[], file: string) => {
      const r = tcr(['run', '--rm', ...flags, 'busybox', 'cat', `${MEMORY_CGROUP}/${file}`]);
      expect(r.stderr, flags.join(' ')).toBe('');
      expect(r.status, flags.join(' ')).toBe(0);
      return r.stdout.trim();
    };
    const hasMemsw = fs.existsSync(`${MEMORY_CGROUP}/memory.memsw.limit_in_bytes`);

    it('-m 0 is no limit (docker and podman read it so)', () => {
      expect(Number(read(['-m', '0'], 'memory.limit_in_bytes'))).toBeGreaterThan(2 ** 60);
    });

    it.skipIf(lacks(hasMemsw))('-m alone: memory-swap twice the memory; --memory-swap -1: unlimited; --memory-swap N: N', () => {
      expect(read(['-m', '10m'], 'memory.limit_in_bytes')).toBe(String(10 * 2 ** 20));
      expect(read(['-m', '10m'], 'memory.memsw.limit_in_bytes')).toBe(String(20 * 2 ** 20));
      expect(Number(read(['-m', '10m', '--memory-swap', '-1'], 'memory.memsw.limit_in_bytes'))).toBeGreaterThan(2 ** 60);
      expect(read(['-m', '10m', '--memory-swap', '30m'], 'memory.memsw.limit_in_bytes')).toBe(String(30 * 2 ** 20));
    });
  });

  describe('run IMAGE in a directory that holds a config.json', () => {
    let dir: string;
    beforeAll(() => {
      dir = sb.bundle('a-bundle', (s) => (s.process!.args = ['echo', 'from the bundle']));
    });
    const inBundle = (args: string[]) => tcr(args, { cwd: dir });
    const removeImageContainers = () => {
      for (const id of containers()) tcr(['rm', '-f', id]);
    };

    it('runs the image, not the bundle, when the first argument names an image', () => {
      try {
        for (const image of ['busybox', 'busybox:latest']) {
          const r = inBundle(['run', image]);
          expect(r.stderr, image).toBe('');
          expect(r.stdout, image).toBe(''); // the image's Cmd: sh, with no input
          expect(r.status, image).toBe(0);
        }
        expect(containers()).toHaveLength(2);
        expect(tcr(['ps', '-a']).stdout).toMatch(/^\S+\s+busybox\s/m);
      } finally {
        removeImageContainers();
      }
    });

    it('runs the bundle as runc does for a plain id, or with --bundle', () => {
      expect(inBundle(['run', 'bundle-ctr'])).toMatchObject({ status: 0, stdout: 'from the bundle\n' });
      expect(tcr(['run', '--bundle', dir, 'busybox'])).toMatchObject({ status: 0, stdout: 'from the bundle\n' });
      expect(containers()).toEqual([]);
      expect(states()).toEqual([]);
    });

    it('refuses flags of both forms, naming them', () => {
      const r = inBundle(['run', '--bundle', dir, '--rm', 'c2']);
      expect(r).toMatchObject({
        status: 125,
        stderr: 'tcr: run: --rm is for an image (run [flags] IMAGE), --bundle for a bundle (run --bundle DIR ID): use one form\n',
      });
      expectNothingMade();
    });
  });
});
