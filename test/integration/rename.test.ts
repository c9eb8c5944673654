// `tcr rename OLD NEW` of stopped containers: the state directory, the
// store's container directory and every path the record names move; the
// exit record, the log and the mounts go along; tcr rm NEW undoes all. A
// bad or taken name is refused and nothing moves (a running container's
// rename: docker-gaps.test.ts).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks, mountsUnder } from '../helpers.js';
import { dropBridge, freeSubnet, haveCni } from './network-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('tcr rename', { timeout: 120_000 }, () => {
  const sb = new Sandbox('tcr-rename');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args]);
  const containers = () => fs.readdirSync(path.join(store, 'containers')).sort();
  const states = () =>
    fs
      .readdirSync(sb.root)
      .filter((i) => !i.startsWith('.'))
      .sort();
  const stopped = async (id: string) => {
    for (let i = 0; i < 100 && tcr(['inspect', '-f', '{{.State.Status}}', id]).stdout !== 'exited\n'; i++)
      await new Promise((r) => setTimeout(r, 100));
  };
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of fs.existsSync(sb.root) ? states() : []) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('moves a stopped container: state, store directory, exit code, log; rm of the new name removes all', async () => {
    expect(tcr(['run', '--network', 'none', '--name', 'first', 'busybox', 'sh', '-c', 'echo data > /f; exit 4']).status).toBe(4);
    const r = tcr(['rename', 'first', 'second']);
    expect([r.status, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect(states()).toEqual(['second']);
    expect(containers()).toEqual(['second']);
    expect(fs.readFileSync(path.join(store, 'containers', 'second', 'upper', 'f'), 'utf8')).toBe('data\n');
    expect(tcr(['inspect', '-f', '{{.Name}} {{.State.ExitCode}} {{.Config.Hostname}}', 'second']).stdout).toBe('/second 4 first\n');
    expect(tcr(['ps', '-a', '--format', '{{.Names}} {{.Status}}']).stdout).toMatch(/^second Exited \(4\) /);
    // no path of the record, the bundle's config or the image use names the old directories
    const old = [path.join(store, 'containers', 'first'), path.join(sb.root, 'first')];
    for (const f of [
      path.join(sb.root, 'second', 'state.json'),
      path.join(store, 'containers', 'second', 'config.json'),
      path.join(store, 'containers', 'second', 'image.json'),
    ])
      for (const o of old) expect(fs.readFileSync(f, 'utf8'), f).not.toContain(`"${o}`);
    // the image is in use by the new name
    expect(tcr(['rmi', 'busybox']).stderr).toContain('in use by container second');
    expect(tcr(['container', 'rename', 'second', 'third']).status).toBe(0);
    expect(tcr(['rm', 'third']).status).toBe(0);
    expect([states(), containers()]).toEqual([[], []]);
  });

  it('a -d container that exited by itself: renamed, it keeps its log and starts again under the new name', async () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'bg', 'busybox', 'sh', '-c', 'echo out; sleep 1']).status).toBe(0);
    await stopped('bg');
    expect(tcr(['rename', 'bg', 'bg2']).status).toBe(0);
    expect(mountsUnder(path.join(store, 'containers', 'bg') + '/')).toEqual([]);
    // its monitor unmounted its root at the exit: nothing is mounted under either name
    expect(mountsUnder(path.join(store, 'containers', 'bg2') + '/')).toEqual([]);
    expect(tcr(['logs', 'bg2']).stdout).toBe('out\n');
    expect(tcr(['start', '-a', 'bg2']).stdout).toBe('out\n');
    expect(tcr(['rm', 'bg2']).status).toBe(0);
    expect(mountsUnder(store)).toEqual([]);
    expect([states(), containers()]).toEqual([[], []]);
  });

  it('refuses a taken or bad name, a missing container (125), and changes nothing', () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'live', 'busybox', 'sleep', '300']).status).toBe(0);
    expect(tcr(['run', '--network', 'none', '--name', 'dead', 'busybox', 'true']).status).toBe(0);
    try {
      for (const [args, msg] of [
        [['dead', 'live'], 'the container name "live" is already in use'],
        [['dead', 'x'], 'invalid container name (x)'],
        [['dead', '../x'], 'invalid container name (../x)'],
        [['dead', 'dead'], 'same name'],
        [['nosuch', 'other'], 'container nosuch does not exist'],
      ] as [string[], string][]) {
        const r = tcr(['rename', ...args]);
        expect([r.status, r.stderr], args.join(' ')).toEqual([125, expect.stringContaining(msg)]);
      }
      expect([states(), containers()]).toEqual([
        ['dead', 'live'],
        ['dead', 'live'],
      ]);
      expect(tcr(['ps', '--format', '{{.Names}} {{.State}}']).stdout).toBe('live running\n');
    } finally {
      tcr(['rm', '-f', 'live', 'dead']);
    }
  });

  it.skipIf(!haveCni)('on a user network, the others find it by its new name once it runs again, never by the old', async () => {
    const net = `tcrrn${process.pid}`;
    const created = tcr(['network', 'create', '--subnet', freeSubnet(210), net]);
    expect(created.stderr).toBe('');
    const bridge = JSON.parse(tcr(['network', 'inspect', net]).stdout)[0].Bridge as string;
    try {
      expect(tcr(['run', '-d', '--network', net, '--name', 'peer', 'busybox', 'sleep', '300']).status).toBe(0);
      expect(tcr(['run', '-d', '--network', net, '--name', 'gone', 'busybox', 'sleep', '300']).status).toBe(0);
      const hosts = () => tcr(['exec', 'peer', 'cat', '/etc/hosts']).stdout;
      expect(hosts()).toMatch(/\sgone$/m);
      // stopped, it gives its address back, and its name goes from the others' hosts, as in docker
      expect(tcr(['stop', '-t', '0', 'gone']).status).toBe(0);
      expect(hosts()).not.toMatch(/\sgone$/m);
      expect(tcr(['rename', 'gone', 'renamed']).status).toBe(0);
      expect(tcr(['start', 'renamed']).status).toBe(0);
      expect(hosts()).toMatch(/\srenamed$/m);
      expect(hosts()).not.toMatch(/\sgone$/m);
      expect(tcr(['rm', '-f', 'renamed']).status).toBe(0);
      expect(hosts()).not.toMatch(/renamed/);
    } finally {
      tcr(['rm', '-f', 'peer', 'gone', 'renamed']);
      tcr(['network', 'rm', net]);
      dropBridge(bridge);
    }
  });
});
