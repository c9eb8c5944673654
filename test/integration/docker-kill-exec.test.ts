// docker's kill (SIGKILL by default for an image container, -s to choose,
// the name printed) beside runc's (SIGTERM by default, silent, for a bundle
// container an engine made), and exec's docker names (-w, -i).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, isRoot, lacks } from '../helpers.js';
import { runDetached } from './lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');

describe.skipIf(lacks(isRoot && fs.existsSync(OCI)))('docker kill and exec beside runc kill', () => {
  const sb = new Sandbox('tcr-kill');
  const store = path.join(sb.dir, 'store');
  const tcr = (args: string[]) => sb.tcr(['--store', store, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const code = (id: string) => tcr(['inspect', '-f', '{{.State.ExitCode}}', id]).stdout.trim();
  const stopped = async (id: string) => {
    for (let i = 0; i < 100 && tcr(['inspect', '-f', '{{.State.Status}}', id]).stdout.trim() !== 'exited'; i++)
      await new Promise((r) => setTimeout(r, 100));
  };
  // a shell that ends with 0 on TERM: SIGKILL shows as 137, TERM as 0
  const TRAPS = 'trap "exit 0" TERM; while :; do sleep 0.1; done';
  beforeAll(() => {
    expect(tcr(['import', '-q', OCI, 'busybox']).status).toBe(0);
  });
  afterAll(() => {
    for (const id of ['k1', 'k2', 'e1']) tcr(['rm', '-f', id]);
    sb.cleanup();
  });

  it('kill of an image container: SIGKILL unless -s says otherwise, and the name printed', async () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'k1', 'busybox', 'sh', '-c', TRAPS]).status).toBe(0);
    expect(tcr(['kill', 'k1'])).toMatchObject({ status: 0, stdout: 'k1\n' });
    await stopped('k1');
    expect(code('k1')).toBe('137');
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'k2', 'busybox', 'sh', '-c', TRAPS]).status).toBe(0);
    expect(tcr(['kill', '-s', 'TERM', 'k2']).status).toBe(0);
    await stopped('k2');
    expect(code('k2')).toBe('0');
    expect(tcr(['kill', '-s', 'TERM', 'k2', 'KILL']).stderr).toContain('the signal is given twice');
  });

  it("kill of a bundle container keeps runc's SIGTERM default and prints nothing", async () => {
    // the shell says which signal it got in a file of its (writable) root
    const { id, bundle } = runDetached(sb, 'trap "echo TERM > /got; exit 0" TERM; while :; do sleep 0.1; done', (s) => {
      s.root!.readonly = false;
    });
    const r = sb.tcr(['kill', id]);
    expect([r.status, r.stdout]).toEqual([0, '']);
    const got = path.join(bundle, 'rootfs', 'got');
    for (let i = 0; i < 100 && !fs.existsSync(got); i++) await new Promise((res) => setTimeout(res, 50));
    expect(fs.readFileSync(got, 'utf8')).toBe('TERM\n');
    sb.tcr(['delete', '--force', id]);
  });

  it('exec -w is --cwd, and -it/-i are taken', () => {
    expect(tcr(['run', '-d', '--network', 'none', '--name', 'e1', 'busybox', 'sleep', '300']).status).toBe(0);
    expect(tcr(['exec', '-w', '/etc', 'e1', 'pwd']).stdout).toBe('/etc\n');
    expect(tcr(['exec', '-i', 'e1', 'true']).status).toBe(0);
  });
});
