// `tcr login [-u USER] [-p PASS | --password-stdin] REGISTRY` and `tcr
// logout REGISTRY`. login checks the credentials against the registry
// first (GET /v2/ with basic auth, or a token for them when the registry
// sends a Bearer challenge), then stores them where registry-auth.ts looks
// first and podman and skopeo read them: $REGISTRY_AUTH_FILE, else
// $XDG_RUNTIME_DIR/containers/auth.json (else /run/containers/UID/auth.json),
// { "auths": { REGISTRY: { "auth": base64(user:password) } } }, mode 0600,
// replaced whole. logout removes the registry's entry from every file
// registry-auth.ts reads (docker's config.json too).
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { out } from '../log.js';
import { apiHost } from '../image/reference.js';
import { isInsecure } from '../image/registry.js';
import { authFiles, basicHeader, fetchToken, parseChallenges, type Credentials } from '../image/registry-auth.js';
import { requireExtraCaCerts } from '../image/extra-ca.js';

/** The key of a registry in "auths": its host[:port], without a scheme or path; docker's hub names are docker.io. */
export function registryKey(input: string): string {
  const host = input
    .replace(/^[a-z]+:\/\//, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  if (!host) throw new TcrError(`${JSON.stringify(input)}: not a registry host`);
  return ['index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
}

async function check(registry: string, creds: Credentials, env: NodeJS.ProcessEnv): Promise<void> {
  const insecure = isInsecure(registry, env);
  const url = `${insecure ? 'http' : 'https'}://${apiHost(registry)}/v2/`;
  requireExtraCaCerts(url);
  const get = async (authorization?: string) => {
    try {
      return await fetch(url, { headers: { 'User-Agent': 'tcr', ...(authorization ? { Authorization: authorization } : {}) } });
    } catch (e) {
      throw new TcrError(`cannot reach registry ${registry} (${url}): ${(e as { cause?: Error }).cause?.message ?? errorMessage(e)}`);
    }
  };
  let res = await get();
  await res.body?.cancel();
  if (res.status === 401) {
    const challenges = parseChallenges(res.headers.get('www-authenticate') ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const auth = bearer ? `Bearer ${await fetchToken(bearer, '', creds, registry, insecure)}` : basicHeader(creds);
    res = await get(auth);
    await res.body?.cancel();
  }
  if (res.status === 401 || res.status === 403)
    throw new TcrError(`login to ${registry} refused for user ${JSON.stringify(creds.username)}: wrong username or password`);
  if (!res.ok) throw new TcrError(`registry ${registry}: ${url} answered ${res.status} ${res.statusText}`);
}

type AuthFile = { auths?: Record<string, unknown> } & Record<string, unknown>;

function readAuthFile(file: string): AuthFile {
  try {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8')) as AuthFile;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a JSON object');
    return doc;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return {};
    throw new TcrError(`credentials file ${file}: cannot read it (${errorMessage(e)})`);
  }
}

function writeAuthFile(file: string, doc: AuthFile): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tcr-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(doc, null, '\t') + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

export interface LoginOptions {
  username?: string;
  password?: string;
  passwordStdin?: boolean;
  env?: NodeJS.ProcessEnv;
}

export async function login(registry: string, o: LoginOptions): Promise<void> {
  const env = o.env ?? process.env;
  const key = registryKey(registry);
  if (o.password !== undefined && o.passwordStdin) throw new TcrError('--password and --password-stdin: give only one');
  if (!o.username) throw new TcrError('tcr login: give the user name with -u (there is no prompt)');
  let password = o.password;
  if (o.passwordStdin) password = fs.readFileSync(0, 'utf8').replace(/\r?\n$/, '');
  if (password === undefined) throw new TcrError('tcr login: give the password with -p or --password-stdin (there is no prompt)');
  if (password === '') throw new TcrError('tcr login: the password is empty');
  const file = authFiles(env)[0];
  await check(key, { username: o.username, password, file }, env);
  const doc = readAuthFile(file);
  doc.auths = { ...(doc.auths ?? {}), [key]: { auth: Buffer.from(`${o.username}:${password}`).toString('base64') } };
  writeAuthFile(file, doc);
  out('Login Succeeded\n');
}

export async function logout(registry: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const key = registryKey(registry);
  let removed = false;
  for (const file of authFiles(env)) {
    const doc = readAuthFile(file);
    const keys = Object.keys(doc.auths ?? {}).filter((k) => {
      try {
        return registryKey(k) === key;
      } catch {
        return false;
      }
    });
    if (!keys.length) continue;
    for (const k of keys) delete doc.auths![k];
    writeAuthFile(file, doc);
    removed = true;
  }
  if (!removed) throw new TcrError(`not logged into ${key}`);
  out(`Removed login credentials for ${key}\n`);
}
