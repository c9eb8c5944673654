// Registry authentication: the WWW-Authenticate challenge (Bearer token
// from the realm, or Basic), and credentials from the files podman, skopeo
// and docker write, looked up in this order:
//   $REGISTRY_AUTH_FILE
//   $XDG_RUNTIME_DIR/containers/auth.json (else /run/containers/UID/auth.json)
//   ~/.config/containers/auth.json
//   $DOCKER_CONFIG/config.json, else ~/.docker/config.json
// Each has { "auths": { "HOST[/PATH]": { "auth": base64("user:password") } } };
// the most specific key (host/namespace/repo before host) wins. Credential
// helpers (credsStore, credHelpers) are not run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';
import { requireExtraCaCerts } from './extra-ca.js';

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (several challenges may be listed). */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let cur: Challenge | undefined;
  let i = 0;
  while (i < header.length) {
    while (i < header.length && /[\s,]/.test(header[i])) i++;
    const tok = /^[A-Za-z0-9_!#$%&'*+.^`|~-]+/.exec(header.slice(i))?.[0];
    if (!tok) break;
    i += tok.length;
    let j = i;
    while (header[j] === ' ') j++;
    if (header[j] !== '=') {
      // a word not followed by '=' starts a challenge: its scheme
      cur = { scheme: tok.toLowerCase(), params: {} };
      out.push(cur);
      continue;
    }
    i = j + 1;
    while (header[i] === ' ') i++;
    let value = '';
    if (header[i] === '"') {
      for (i++; i < header.length && header[i] !== '"'; i++) value += header[i] === '\\' ? (header[++i] ?? '') : header[i];
      i++;
    } else {
      value = /^[^\s,]*/.exec(header.slice(i))![0];
      i += value.length;
    }
    if (cur) cur.params[tok.toLowerCase()] = value;
  }
  return out;
}

export interface Credentials {
  username: string;
  password: string;
  /** the file they came from, for messages */
  file: string;
}

export function authFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const home = env.HOME || os.homedir();
  const uid = process.getuid?.() ?? 0;
  const files = [
    env.REGISTRY_AUTH_FILE,
    env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json') : `/run/containers/${uid}/auth.json`,
    path.join(env.XDG_CONFIG_HOME || path.join(home, '.config'), 'containers', 'auth.json'),
    path.join(env.DOCKER_CONFIG || path.join(home, '.docker'), 'config.json'),
  ];
  return files.filter((f): f is string => !!f);
}

/** A key of "auths" as host[/path]: drops a scheme and docker's /v1/ suffix, maps docker.io's aliases. */
function normalizeKey(key: string): string {
  let k = key.replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
  k = k.replace(/\/v[12]$/, '');
  const [host, ...rest] = k.split('/');
  const h = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
  return [h, ...rest].join('/');
}

/** Credentials for a repository on a registry, or undefined. */
export function findCredentials(registry: string, repository: string, env: NodeJS.ProcessEnv = process.env): Credentials | undefined {
  // most specific first: host/a/b/c, host/a/b, host/a, host
  const parts = repository.split('/');
  const wanted = parts.map((_, i) => `${registry}/${parts.slice(0, parts.length - i).join('/')}`).concat(registry);
  for (const file of authFiles(env)) {
    let auths: Record<string, { auth?: string; username?: string; password?: string }>;
    try {
      auths = (JSON.parse(fs.readFileSync(file, 'utf8')) as { auths?: typeof auths }).auths ?? {};
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') continue;
      throw new TcrError(`credentials file ${file}: cannot read it (${(e as Error).message})`);
    }
    const byKey = new Map(Object.entries(auths).map(([k, v]) => [normalizeKey(k), v]));
    for (const key of wanted) {
      const entry = byKey.get(key);
      if (!entry) continue;
      if (entry.auth) {
        const text = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = text.indexOf(':');
        if (colon < 0) throw new TcrError(`credentials file ${file}: the "auth" of ${key} is not base64 of user:password`);
        return { username: text.slice(0, colon), password: text.slice(colon + 1), file };
      }
      if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password, file };
    }
  }
  return undefined;
}

export function basicHeader(c: Credentials): string {
  return 'Basic ' + Buffer.from(`${c.username}:${c.password}`).toString('base64');
}

/**
 * Fetches a bearer token from the challenge's realm for `scope`, sending
 * basic credentials when there are some (anonymous otherwise, as for public
 * images on Docker Hub).
 */
export async function fetchToken(
  challenge: Challenge,
  scope: string,
  creds: Credentials | undefined,
  registry: string,
  insecureOk: boolean,
): Promise<string> {
  const realm = challenge.params.realm;
  if (!realm) throw new TcrError(`registry ${registry}: its Bearer challenge names no realm to get a token from`);
  let url: URL;
  try {
    url = new URL(realm);
  } catch {
    throw new TcrError(`registry ${registry}: token realm ${JSON.stringify(realm)} is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && insecureOk))
    throw new TcrError(`registry ${registry}: refusing to send credentials to token realm ${realm} (not https)`);
  requireExtraCaCerts(url.href);
  if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
  url.searchParams.set('scope', challenge.params.scope || scope);
  const headers: Record<string, string> = { 'User-Agent': 'tcr' };
  if (creds) headers.Authorization = basicHeader(creds);
  let res: Response;
  try {
    res = await fetch(url, { headers });
  } catch (e) {
    const err = new TcrError(
      `registry ${registry}: cannot reach its token service ${url.origin}: ${(e as { cause?: Error }).cause?.message ?? (e as Error).message}`,
    );
    (err as TcrError & { transient: boolean }).transient = true;
    throw err;
  }
  if (res.status === 401 || res.status === 403) {
    throw new TcrError(
      creds
        ? `registry ${registry}: login refused for user ${JSON.stringify(creds.username)} (credentials from ${creds.file})`
        : `registry ${registry}: access needs a login; no credentials found for it in ${authFiles().join(', ')}`,
    );
  }
  if (!res.ok) throw new TcrError(`registry ${registry}: token service ${url.origin} answered ${res.status} ${res.statusText}`);
  const body = (await res.json().catch(() => ({}))) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new TcrError(`registry ${registry}: token service ${url.origin} returned no token`);
  return token;
}
