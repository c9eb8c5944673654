// The pencil factory run by a real compose client: Debian's podman-compose
// driving podman, with tcr as podman's OCI runtime (and runc, the control
// lane), gives the same answer as `tcr compose`. podman-compose 1.0.3 has no
// working --scale and leaves the project network after down: the test
// removes it, as a user of that version must.
//
// podman's storage, run root, network config and the runtime's --root are
// private to a temp dir. netavark's iptables chains and its run dir are
// host-wide: removed after, if the test made them.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { LANES, RUNC, removeCgroup, removeNew, run, snapshotPaths, unmountUnder, which, writeRuntimeWrapper } from './lib.js';
import { OCI, eventually, freePort, httpGet } from '../integration/network-lib.js';

const PODMAN = which('podman');
const COMPOSE = which('podman-compose');
const available = isRoot && !!PODMAN && !!COMPOSE && !!which('conmon') && !!RUNC && fs.existsSync(OCI);
const HOST_PATHS = ['/run/containers', '/run/containers/networks'];
const PENCIL = /^a pencil: HB graphite lead from \S+ in a hexagonal cedar case from \S+, assembled by \S+\n$/;

/** netavark's chains in the filter and nat tables. */
function netavarkChains(): Set<string> {
  const chains = new Set<string>();
  for (const t of ['filter', 'nat'])
    for (const m of run('iptables-save', ['-t', t]).stdout.matchAll(/^:(NETAVARK\S*) /gm)) chains.add(`${t} ${m[1]}`);
  return chains;
}

/** Removes the netavark chains that were not there `before`, with the rules that jump to them. */
function removeNewChains(before: Set<string>): void {
  const made = [...netavarkChains()].filter((c) => !before.has(c));
  for (const entry of made) {
    const [table, chain] = entry.split(' ');
    for (const rule of run('iptables-save', ['-t', table])
      .stdout.split('\n')
      .filter((l) => l.startsWith('-A ') && l.endsWith(`-j ${chain}`)))
      run('sh', ['-c', `iptables -w -t ${table} ${rule.replace(/^-A/, '-D')}`]);
    run('iptables', ['-w', '-t', table, '-F', chain]);
  }
  for (const entry of made) run('iptables', ['-w', '-t', entry.split(' ')[0], '-X', entry.split(' ')[1]]);
}

describe.skipIf(lacks(available))('the pencil factory under podman-compose and tcr compose', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-e2e-compose-'));
  const app = path.join(dir, 'pencil-factory');
  const answers: Record<string, string> = {};
  let port = 0;
  let paths = new Set<string>();
  let chains = new Set<string>();

  beforeAll(async () => {
    paths = snapshotPaths(HOST_PATHS);
    chains = netavarkChains();
    fs.cpSync(path.join(REPO, 'examples', 'pencil-factory'), app, { recursive: true });
    port = await freePort();
  });
  afterAll(() => {
    removeNewChains(chains);
    removeNew(HOST_PATHS, paths, true);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const lane of LANES) {
    describe(`podman-compose, podman --runtime ${lane.name}${lane.name === 'runc' ? ' (the control lane)' : ''}`, () => {
      const home = path.join(dir, lane.name);
      const cgroupParent = `/${path.basename(dir)}-${lane.name}`;
      const env = { ...process.env, CONTAINERS_CONF: path.join(home, 'containers.conf'), PENCIL_PORT: '' };
      let podmanArgs: string[] = [];
      const podman = (args: string[]) => run(PODMAN!, [...podmanArgs, ...args], { env });
      const compose = (args: string[]) =>
        run(
          COMPOSE!,
          [
            '--podman-args',
            podmanArgs.join(' '),
            '--podman-run-args',
            `--ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --cgroup-parent ${cgroupParent}`,
            '-p',
            `pf${lane.name}`,
            ...args,
          ],
          { env: { ...env, PENCIL_PORT: String(port) }, cwd: app, timeout: 240_000 },
        );

      beforeAll(() => {
        fs.mkdirSync(home, { recursive: true });
        const wrapper = writeRuntimeWrapper(path.join(home, 'bin'), lane, path.join(home, 'calls.log'), [
          '--root',
          path.join(home, 'runtime-root'),
        ]);
        fs.writeFileSync(env.CONTAINERS_CONF, '[engine]\nlock_type = "file"\nruntime_supports_json = ["crun", "runc", "tcr"]\n');
        podmanArgs = ['--root', path.join(home, 'storage'), '--runroot', path.join(home, 'run'), '--tmpdir', path.join(home, 'tmp')];
        podmanArgs.push(
          '--network-config-dir',
          path.join(home, 'net'),
          '--cgroup-manager',
          'cgroupfs',
          '--events-backend',
          'none',
          '--runtime',
          wrapper,
        );
        const tarball = path.join(home, 'rootfs.tar');
        expect(run('tar', ['-C', path.join(DEMO, 'rootfs'), '--numeric-owner', '-cf', tarball, '.']).status).toBe(0);
        expect(podman(['import', '-q', tarball, 'localhost/busybox:latest']).status).toBe(0);
      }, 60_000);
      afterAll(() => {
        compose(['down']);
        podman(['rm', '-a', '-f', '-t', '0']);
        podman(['network', 'rm', '-f', `pf${lane.name}_factory`]);
        podman(['system', 'reset', '-f']);
        const root = path.join(home, 'runtime-root');
        for (const id of fs.existsSync(root) ? fs.readdirSync(root).filter((n) => !n.startsWith('.')) : [])
          run(lane.bin, ['--root', root, 'delete', '--force', id]);
        unmountUnder(home);
        removeCgroup(cgroupParent);
      }, 120_000);

      it('up -d, then the gateway assembles a pencil; down removes the containers', async () => {
        const up = compose(['up', '-d']);
        expect(up.status).toBe(0);
        answers[lane.name] = await eventually(() => httpGet(`http://127.0.0.1:${port}/cgi-bin/pencil`), 30_000);
        expect(answers[lane.name]).toMatch(PENCIL);
        expect(compose(['down']).status).toBe(0);
        expect(podman(['ps', '-a', '-q']).stdout).toBe('');
      }, 300_000);
    });
  }

  describe('tcr compose, on the same file', () => {
    const sb = new Sandbox('tcr-e2e-compose-tcr');
    const tcr = (args: string[]) =>
      run(TCR, ['--root', sb.root, '--store', path.join(sb.dir, 'store'), ...args], {
        cwd: app,
        env: { ...process.env, PENCIL_PORT: String(port) },
        timeout: 240_000,
      });
    afterAll(() => {
      tcr(['compose', '-p', 'pftcr', 'down']);
      sb.cleanup();
    });

    it('gives the same answer', async () => {
      expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
      expect(tcr(['compose', '-p', 'pftcr', 'up', '-d']).status).toBe(0);
      const answer = await eventually(() => httpGet(`http://127.0.0.1:${port}/cgi-bin/pencil`), 30_000);
      expect(answer).toMatch(PENCIL);
      // the same words; only the replicas' host names differ (podman's are container ids)
      const shape = (a: string) => a.replace(/from \S+|by \S+/g, 'X');
      for (const lane of LANES) if (answers[lane.name]) expect(shape(answer)).toBe(shape(answers[lane.name]));
      expect(tcr(['compose', '-p', 'pftcr', 'down']).status).toBe(0);
    }, 300_000);
  });
});
