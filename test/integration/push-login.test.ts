// tcr push to a real registry (Debian's docker-registry on 127.0.0.1, plain
// HTTP as docker allows for loopback), through a counting proxy: blobs the
// registry has are skipped after a HEAD, big ones go up in PATCH chunks,
// the manifest is OCI's; pulled back by tcr and inspected by skopeo. tcr
// login / logout against a registry with htpasswd (bcrypt) auth: refused
// credentials store nothing, good ones are stored 0600 where podman and
// skopeo read them and let push through.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, Sandbox, TCR, isRoot, lacks } from '../helpers.js';
import { TestRegistry, ensureRegistryTools, freePort } from './registry-lib.js';

const OCI = path.join(REPO, 'demo', 'busybox-oci');
const missing = ensureRegistryTools();

/** A bcrypt hash for htpasswd: Python's crypt (libxcrypt), else htpasswd -B; undefined when neither can. */
function bcrypt(password: string): string | undefined {
  const py = spawnSync(
    'python3',
    ['-c', 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))', password],
    {
      encoding: 'utf8',
    },
  );
  if (py.status === 0 && py.stdout.startsWith('$2')) return py.stdout.trim();
  const ht = spawnSync('htpasswd', ['-nbB', 'x', password], { encoding: 'utf8' });
  return ht.status === 0 ? ht.stdout.trim().slice(2) : undefined;
}

interface Out {
  status: number | null;
  stdout: string;
  stderr: string;
}

describe.skipIf(lacks(isRoot && !missing && fs.existsSync(OCI)))('tcr push, login, logout', () => {
  const sb = new Sandbox('tcr-push');
  const store = path.join(sb.dir, 'store');
  const reg = new TestRegistry(path.join(sb.dir, 'registry'));
  const secured = { dir: path.join(sb.dir, 'secured'), port: 0, proc: undefined as ReturnType<typeof spawn> | undefined };
  const noCreds = { HOME: path.join(sb.dir, 'home'), XDG_RUNTIME_DIR: path.join(sb.dir, 'run'), REGISTRY_AUTH_FILE: '' };
  const requests: string[] = [];
  let proxy: http.Server | undefined;
  let via = '';
  const hash = bcrypt('s3cret');

  /** Async: the registry and the proxy live in this process. */
  const tcr = (args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Promise<Out> =>
    new Promise((resolve) => {
      const p = spawn(TCR, ['--root', sb.root, '--store', env.STORE ?? store, ...args], {
        env: { ...process.env, ...noCreds, TCR_REGISTRIES: 'docker.io', ...env },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d) => (stdout += d));
      p.stderr.on('data', (d) => (stderr += d));
      p.stdin.end(input ?? '');
      p.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  const ok = async (args: string[], env: NodeJS.ProcessEnv = {}, input?: string) => {
    const r = await tcr(args, env, input);
    expect(r.stderr, args.join(' ')).toBe('');
    expect(r.status, args.join(' ')).toBe(0);
    return r.stdout;
  };
  const skopeo = (args: string[]) => spawnSync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });

  beforeAll(async () => {
    await reg.start();
    // every request on its way to the registry, as "METHOD path"
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        requests.push(`${req.method} ${req.url}`);
        const headers = { ...req.headers, host: reg.host };
        const up = http.request({ host: '127.0.0.1', port: reg.port, method: req.method, path: req.url, headers }, (r) => {
          const out = { ...r.headers };
          if (out.location) out.location = out.location.replace(reg.host, via);
          res.writeHead(r.statusCode ?? 502, out);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        up.end(Buffer.concat(chunks));
      });
    });
    await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
    via = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    await ok(['import', '-q', OCI, 'busybox']);
    if (hash) {
      fs.mkdirSync(secured.dir, { recursive: true });
      fs.writeFileSync(path.join(secured.dir, 'htpasswd'), `tcr:${hash}\n`);
      secured.port = await freePort();
      const config = path.join(secured.dir, 'config.yml');
      fs.writeFileSync(
        config,
        `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${secured.dir}/storage\nhttp:\n  addr: 127.0.0.1:${secured.port}\nauth:\n  htpasswd:\n    realm: tcr-test\n    path: ${secured.dir}/htpasswd\n`,
      );
      const log = fs.openSync(path.join(secured.dir, 'log'), 'a');
      secured.proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', log, log] });
      fs.closeSync(log);
      for (let i = 0; i < 100; i++) {
        const up = await fetch(`http://127.0.0.1:${secured.port}/v2/`).then(
          (r) => r.status,
          () => 0,
        );
        if (up === 401) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }, 120_000);

  afterAll(async () => {
    await reg.stop();
    if (secured.proc?.pid && secured.proc.exitCode === null) process.kill(secured.proc.pid, 'SIGTERM');
    await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
    sb.cleanup();
  });

  it('push: blobs uploaded whole, then skipped after a HEAD; an OCI manifest; pulled back by tcr, inspected by skopeo', async () => {
    const dest = `${via}/test/busybox:v1`;
    const first = await ok(['push', 'busybox', dest]);
    expect(first).toMatch(
      new RegExp(
        `^The push refers to repository \\[${via}/test/busybox\\]\\n[0-9a-f]{12}: Pushed\\nv1: digest: sha256:[0-9a-f]{64} size: \\d+\\n$`,
      ),
    );
    expect(requests.filter((r) => r.startsWith('PATCH'))).toEqual([]);
    expect(requests.filter((r) => r.startsWith('PUT') && r.includes('/blobs/uploads/'))).toHaveLength(2); // the layer, the config
    requests.length = 0;
    const again = await ok(['push', 'busybox', dest]);
    expect(again).toMatch(/: Layer already exists\n/);
    expect(requests.filter((r) => r.startsWith('POST'))).toEqual([]);
    expect(requests.filter((r) => r.startsWith('HEAD'))).toHaveLength(2);
    const other = path.join(sb.dir, 'store-pulled');
    await ok(['pull', '-q', `${reg.host}/test/busybox:v1`], { STORE: other });
    expect(await ok(['run', '--rm', '--network', 'none', `${reg.host}/test/busybox:v1`, 'cat', '/etc/passwd'], { STORE: other })).toMatch(
      /^root:x:0:0/,
    );
    const raw = skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/test/busybox:v1`]);
    expect(raw.status, raw.stderr).toBe(0);
    expect(JSON.parse(raw.stdout)).toMatchObject({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json' });
    const info = skopeo(['inspect', '--tls-verify=false', `docker://${reg.host}/test/busybox:v1`]);
    expect(JSON.parse(info.stdout)).toMatchObject({ Architecture: 'amd64', Os: 'linux', Layers: [expect.stringMatching(/^sha256:/)] });
  }, 120_000);

  it('push in chunks (PATCH with Content-Range) above the chunk size; tag then push by the name alone', async () => {
    requests.length = 0;
    await ok(['tag', 'busybox', `${via}/test/chunked:c`]);
    expect(await ok(['push', '-q', `${via}/test/chunked:c`], { TCR_PUSH_CHUNK_SIZE: String(700_000) })).toBe('');
    expect(requests.filter((r) => r.startsWith('PATCH')).length).toBeGreaterThanOrEqual(3);
    const other = path.join(sb.dir, 'store-chunked');
    await ok(['pull', '-q', `${reg.host}/test/chunked:c`], { STORE: other });
    expect(await ok(['run', '--rm', '--network', 'none', `${reg.host}/test/chunked:c`, 'echo', 'whole'], { STORE: other })).toBe('whole\n');
  }, 120_000);

  it('push refusals: an image not in the store, a registry that is not there', async () => {
    const gone = await tcr(['push', 'nothere', `${via}/x/y`]);
    expect([gone.status, gone.stderr]).toEqual([125, expect.stringMatching(/image "nothere" is not in the image store/)]);
    const port = await freePort();
    const down = await tcr(['push', 'busybox', `127.0.0.1:${port}/x/y`]);
    expect([down.status, down.stderr]).toEqual([125, expect.stringMatching(/cannot reach registry 127\.0\.0\.1:\d+/)]);
  });

  it.skipIf(!hash)(
    'login checks the password (htpasswd, bcrypt), stores it 0600 where podman reads it; push needs it; logout',
    async () => {
      const host = `127.0.0.1:${secured.port}`;
      const authFile = path.join(sb.dir, 'auth', 'auth.json');
      const env = { REGISTRY_AUTH_FILE: authFile };
      const bad = await tcr(['login', '-u', 'tcr', '-p', 'wrong', host], env);
      expect([bad.status, bad.stderr]).toEqual([125, `tcr: login to ${host} refused for user "tcr": wrong username or password\n`]);
      expect(fs.existsSync(authFile)).toBe(false);
      const anon = await tcr(['push', 'busybox', `${host}/sec/busybox`], env);
      expect(anon.status).toBe(125);
      expect(anon.stderr).toMatch(/401 Unauthorized.*tcr login to the registry first/);
      expect(await ok(['login', '-u', 'tcr', '--password-stdin', host], env, 's3cret\n')).toBe('Login Succeeded\n');
      expect(fs.statSync(authFile).mode & 0o777).toBe(0o600);
      expect(JSON.parse(fs.readFileSync(authFile, 'utf8'))).toEqual({
        auths: { [host]: { auth: Buffer.from('tcr:s3cret').toString('base64') } },
      });
      await ok(['push', '-q', 'busybox', `${host}/sec/busybox`], env);
      const seen = skopeo(['inspect', '--tls-verify=false', '--authfile', authFile, `docker://${host}/sec/busybox`]);
      expect(seen.status, seen.stderr).toBe(0);
      // without REGISTRY_AUTH_FILE: podman's per-user file under $XDG_RUNTIME_DIR
      expect(await ok(['login', '-u', 'tcr', '-p', 's3cret', host])).toBe('Login Succeeded\n');
      const xdg = path.join(noCreds.XDG_RUNTIME_DIR, 'containers', 'auth.json');
      expect(Object.keys((JSON.parse(fs.readFileSync(xdg, 'utf8')) as { auths: object }).auths)).toEqual([host]);
      expect(await ok(['logout', host], env)).toBe(`Removed login credentials for ${host}\n`);
      expect(JSON.parse(fs.readFileSync(authFile, 'utf8'))).toEqual({ auths: {} });
      const twice = await tcr(['logout', host], env);
      expect([twice.status, twice.stderr]).toEqual([125, `tcr: not logged into ${host}\n`]);
      const noUser = await tcr(['login', '-p', 'x', host], env);
      expect([noUser.status, noUser.stderr]).toEqual([125, 'tcr: tcr login: give the user name with -u (there is no prompt)\n']);
    },
    120_000,
  );
});
