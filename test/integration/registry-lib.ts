// A real registry for the pull tests: Debian's docker-registry (the CNCF
// distribution registry) started privately on 127.0.0.1 with a random port
// and its own storage in a temp dir, optionally with token auth served by a
// small token server in this process; images pushed to it by skopeo. Every
// process started here is stopped by its pid.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

/** Installs docker-registry, skopeo and openssl if missing; returns why not when that fails. */
export function ensureRegistryTools(): string | undefined {
  const need = [
    ['docker-registry', 'docker-registry'],
    ['skopeo', 'skopeo'],
    ['openssl', 'openssl'],
  ]
    .filter(([cmd]) => !has(cmd))
    .map(([, pkg]) => pkg);
  if (need.length === 0) return undefined;
  if (process.getuid?.() !== 0) return `${need.join(', ')} not installed and not root to install them`;
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 300_000 });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', ...need], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: 'ignore',
    timeout: 600_000,
  });
  if (r.status !== 0 || need.some((p) => !has(p))) return `apt-get install ${need.join(' ')} failed`;
  return undefined;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface TokenAuth {
  user: string;
  password: string;
  /** token requests seen, for assertions */
  requests: string[];
}

export class TestRegistry {
  proc?: ChildProcess;
  tokenServer?: http.Server;
  port = 0;
  log: string;

  constructor(
    readonly dir: string,
    readonly auth?: TokenAuth,
  ) {
    fs.mkdirSync(dir, { recursive: true });
    this.log = path.join(dir, 'registry.log');
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }
  get storage(): string {
    return path.join(this.dir, 'storage');
  }

  async start(): Promise<void> {
    this.port = await freePort();
    let authYaml = '';
    if (this.auth) {
      const tokenPort = await this.startTokenServer();
      authYaml = `auth:\n  token:\n    realm: http://127.0.0.1:${tokenPort}/token\n    service: tcr-test\n    issuer: tcr-test-issuer\n    rootcertbundle: ${path.join(this.dir, 'cert.pem')}\n`;
    }
    const config = path.join(this.dir, 'config.yml');
    fs.writeFileSync(
      config,
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${this.storage}\n  delete:\n    enabled: true\nhttp:\n  addr: ${this.host}\n${authYaml}`,
    );
    const out = fs.openSync(this.log, 'a');
    this.proc = spawn('docker-registry', ['serve', config], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    for (let i = 0; i < 100; i++) {
      try {
        const r = await fetch(`http://${this.host}/v2/`);
        if (r.status === 200 || r.status === 401) return;
      } catch {
        // not listening yet
      }
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`docker-registry did not start: ${fs.readFileSync(this.log, 'utf8')}`);
  }

  /** A token server as the distribution spec describes: basic auth in, a signed JWT (x5c chain) out. */
  private async startTokenServer(): Promise<number> {
    const key = path.join(this.dir, 'key.pem');
    const cert = path.join(this.dir, 'cert.pem');
    spawnSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=tcr-test-token'],
      { stdio: 'ignore' },
    );
    const privateKey = crypto.createPrivateKey(fs.readFileSync(key));
    const der = new crypto.X509Certificate(fs.readFileSync(cert)).raw.toString('base64');
    const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
    const auth = this.auth!;
    this.tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      auth.requests.push(url.search);
      const given = req.headers.authorization?.startsWith('Basic ')
        ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString()
        : undefined;
      if (given !== `${auth.user}:${auth.password}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const access = url.searchParams.getAll('scope').map((s) => {
        const [type, ...rest] = s.split(':');
        const actions = rest.pop()!.split(',');
        return { type, name: rest.join(':'), actions };
      });
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', x5c: [der] }));
      const claims = b64url(
        JSON.stringify({
          iss: 'tcr-test-issuer',
          sub: auth.user,
          aud: url.searchParams.get('service'),
          exp: now + 300,
          nbf: now - 10,
          iat: now,
          jti: crypto.randomUUID(),
          access,
        }),
      );
      const sig = b64url(crypto.sign('sha256', Buffer.from(`${header}.${claims}`), privateKey));
      res
        .writeHead(200, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ token: `${header}.${claims}.${sig}`, expires_in: 300 }));
    });
    await new Promise<void>((r) => this.tokenServer!.listen(0, '127.0.0.1', r));
    return (this.tokenServer.address() as net.AddressInfo).port;
  }

  /** skopeo copy from an OCI layout into this registry. */
  async push(layout: string, tag: string, dest: string, extra: string[] = []): Promise<void> {
    const creds = this.auth ? ['--dest-creds', `${this.auth.user}:${this.auth.password}`] : [];
    await run(
      'skopeo',
      [
        '--insecure-policy',
        'copy',
        '--quiet',
        '--dest-tls-verify=false',
        ...creds,
        ...extra,
        `oci:${layout}:${tag}`,
        `docker://${this.host}/${dest}`,
      ],
      { timeout: 60_000 },
    );
  }

  /** The file the registry serves a blob from. */
  blobFile(digest: string): string {
    const hex = digest.slice(7);
    return path.join(this.storage, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
  }

  async stop(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.pid) {
      const exited = new Promise((r) => this.proc!.once('exit', r));
      process.kill(this.proc.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (this.proc.exitCode === null && this.proc.signalCode === null) process.kill(this.proc.pid, 'SIGKILL');
    }
    await new Promise<void>((r) => (this.tokenServer ? this.tokenServer.close(() => r()) : r()));
  }
}

/**
 * A proxy in front of a registry that fails on purpose: each blob's first
 * request gets a 503, and the first blob body is cut off half-way, so the
 * client's retries are exercised against real registry answers.
 */
export async function flakyProxy(upstream: string): Promise<{ host: string; hits: Map<string, number>; close: () => Promise<void> }> {
  const hits = new Map<string, number>();
  let cut = false;
  // an upstream that cannot be reached ends the request, not the test run
  const server = http.createServer((req, res) => void forward(req, res).catch(() => res.destroy()));
  async function forward(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const p = req.url ?? '/';
    const count = (hits.get(p) ?? 0) + 1;
    hits.set(p, count);
    if (p.includes('/blobs/') && count === 1) {
      res.writeHead(503).end('try again');
      return;
    }
    const headers: Record<string, string> = {};
    for (const h of ['accept', 'authorization']) if (req.headers[h]) headers[h] = String(req.headers[h]);
    const up = await fetch(`http://${upstream}${p}`, { headers });
    const body = Buffer.from(await up.arrayBuffer());
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => {
      if (!['content-length', 'transfer-encoding', 'connection'].includes(k)) out[k] = v;
    });
    if (p.includes('/blobs/') && !cut && body.length > 100) {
      cut = true;
      res.writeHead(up.status, { ...out, 'content-length': String(body.length) });
      res.write(body.subarray(0, body.length >> 1));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.writeHead(up.status, { ...out, 'content-length': String(body.length) }).end(body);
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return { host, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}
