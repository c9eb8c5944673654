// Image references, as a docker or podman user types them, and the
// transports tcr reads images from:
//   busybox                      → docker.io/library/busybox:latest
//   quay.io/ns/name:tag, host:5000/ns/name@sha256:…, docker://REF
//   oci:DIR[:TAG]                an OCI image layout directory
//   oci-archive:FILE[:TAG]       a tar of such a directory
//   docker-archive:FILE[:REF]    a `docker save` tarball
//
// Short names (no registry host) are looked up on the search registries, in
// order: $TCR_REGISTRIES (comma or space separated) if set, else the lines of
// /etc/tcr/registries.conf (one host per line, '#' starts a comment), else
// docker.io alone. The first one is where `tcr pull busybox` goes first.
import fs from 'node:fs';
import { TcrError } from '../errors.js';

export const DEFAULT_REGISTRY = 'docker.io';
export const REGISTRIES_CONF = '/etc/tcr/registries.conf';

/** A name in a registry: host, repository path, tag and/or digest. */
export interface RegistryRef {
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export type ImageRef =
  | { transport: 'docker'; ref: RegistryRef; /** the user wrote no registry host */ short: boolean }
  | { transport: 'oci'; path: string; tag?: string }
  | { transport: 'oci-archive'; path: string; tag?: string }
  | { transport: 'docker-archive'; path: string; ref?: RegistryRef };

// The grammar of github.com/distribution/reference, kept to what matters.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const HOST = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
/** tcr only speaks sha256; a digest is also a file name in the store, so this check is a safety one. */
export const DIGEST = /^sha256:[a-f0-9]{64}$/;

function bad(ref: string, why: string): TcrError {
  return new TcrError(`invalid image reference ${JSON.stringify(ref)}: ${why}`);
}

/** Parses a docker-style reference (no transport prefix). */
export function parseRegistryRef(input: string, defaultRegistry = DEFAULT_REGISTRY): { ref: RegistryRef; short: boolean } {
  if (input === '') throw bad(input, 'it is empty');
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!/^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/.test(digest))
      throw bad(input, `${JSON.stringify(digest)} is not a digest (expected sha256:<64 hex digits>)`);
    if (!DIGEST.test(digest))
      throw bad(input, `only sha256 digests (64 lowercase hex digits) are supported, not ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      throw bad(
        input,
        `${JSON.stringify(tag)} is not a valid tag (letters, digits, '_', '.', '-'; at most 128; not starting with '.' or '-')`,
      );
  }
  const parts = rest.split('/');
  let registry = defaultRegistry;
  let short = true;
  // as docker: the first component is a host if it has a '.' or a ':' or is "localhost"
  if (parts.length > 1 && (/[.:]/.test(parts[0]) || parts[0] === 'localhost' || parts[0] !== parts[0].toLowerCase())) {
    registry = parts.shift()!;
    short = false;
    if (!HOST.test(registry)) throw bad(input, `${JSON.stringify(registry)} is not a registry host[:port]`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DEFAULT_REGISTRY;
  for (const p of parts) {
    if (p === '') throw bad(input, 'it has an empty path component');
    if (p !== p.toLowerCase()) throw bad(input, 'repository names must be lowercase');
    if (!COMPONENT.test(p))
      throw bad(
        input,
        `${JSON.stringify(p)} is not a valid name component (lowercase letters, digits, and separators '.', '_', '__', '-' between them)`,
      );
  }
  let repository = parts.join('/');
  if (registry === DEFAULT_REGISTRY && parts.length === 1) repository = `library/${repository}`;
  if (`${registry}/${repository}`.length > 255) throw bad(input, 'the name is longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { ref: { registry, repository, tag, digest }, short };
}

/** Parses anything `tcr pull`/`tcr run` accept, with its transport. */
export function parseImageRef(input: string, defaultRegistry = searchRegistries()[0]): ImageRef {
  const m = /^(docker|oci|oci-archive|docker-archive):(.*)$/s.exec(input);
  if (!m) {
    const { ref, short } = parseRegistryRef(input, defaultRegistry);
    return { transport: 'docker', ref, short };
  }
  const [, transport, rest] = m;
  if (transport === 'docker') {
    if (!rest.startsWith('//')) throw bad(input, 'the docker transport is written docker://NAME[:TAG]');
    const { ref, short } = parseRegistryRef(rest.slice(2), defaultRegistry);
    return { transport: 'docker', ref, short };
  }
  // as containers/image: the path ends at the first ':'; what follows names the image inside
  const colon = rest.indexOf(':');
  const path = colon >= 0 ? rest.slice(0, colon) : rest;
  const inner = colon >= 0 ? rest.slice(colon + 1) : undefined;
  if (path === '') throw bad(input, `${transport}: needs a path (${transport}:PATH[:${transport === 'docker-archive' ? 'REF' : 'TAG'}])`);
  if (inner === '') throw bad(input, "nothing after the second ':'");
  if (transport === 'docker-archive') {
    return { transport, path, ref: inner === undefined ? undefined : parseRegistryRef(inner, defaultRegistry).ref };
  }
  if (inner !== undefined && !/^[A-Za-z0-9._\-:/@]+$/.test(inner)) throw bad(input, `${JSON.stringify(inner)} is not a valid tag`);
  return { transport: transport as 'oci' | 'oci-archive', path, tag: inner };
}

/** registry/repository, the name as the store and `tcr images` show it. */
export function repoName(r: RegistryRef): string {
  return `${r.registry}/${r.repository}`;
}

/** The full, canonical reference: docker.io/library/busybox:latest, host/x@sha256:…. */
export function formatRef(r: RegistryRef): string {
  return repoName(r) + (r.tag ? `:${r.tag}` : '') + (r.digest ? `@${r.digest}` : '');
}

/** A short name as the user typed it, completed on one search registry. */
export function qualify(r: RegistryRef, registry: string): RegistryRef {
  let repository = r.repository;
  if (r.registry === DEFAULT_REGISTRY && repository.startsWith('library/') && registry !== DEFAULT_REGISTRY)
    repository = repository.slice(8);
  if (registry === DEFAULT_REGISTRY && !repository.includes('/')) repository = `library/${repository}`;
  return { ...r, registry, repository };
}

/** The registries a short name is looked up on, first one first. */
export function searchRegistries(env: NodeJS.ProcessEnv = process.env, confFile = REGISTRIES_CONF): string[] {
  let list: string[] = [];
  if (env.TCR_REGISTRIES !== undefined) {
    list = env.TCR_REGISTRIES.split(/[\s,]+/);
  } else {
    try {
      list = fs
        .readFileSync(confFile, 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, ''));
    } catch {
      // no file: docker.io alone
    }
  }
  list = list.map((s) => s.trim()).filter(Boolean);
  for (const r of list) {
    if (!HOST.test(r))
      throw new TcrError(
        `search registry ${JSON.stringify(r)} (from ${env.TCR_REGISTRIES !== undefined ? '$TCR_REGISTRIES' : confFile}) is not a host[:port]`,
      );
  }
  return list.length ? [...new Set(list)] : [DEFAULT_REGISTRY];
}

/** Every fully qualified name a short name may mean, in lookup order. */
export function candidates(r: RegistryRef, short: boolean, registries = searchRegistries()): RegistryRef[] {
  if (!short) return [r];
  return registries.map((reg) => qualify(r, reg));
}

/**
 * A name for the store from what the user typed: `busybox` →
 * docker.io/library/busybox:latest. Throws a clear error for anything else.
 */
export function normalizeName(input: string, defaultRegistry?: string): string {
  const { ref } = parseRegistryRef(input, defaultRegistry ?? searchRegistries()[0]);
  if (ref.digest && !ref.tag) throw bad(input, 'a name for an image needs a tag, not a digest');
  return `${repoName(ref)}:${ref.tag ?? 'latest'}`;
}

/** Splits a stored name "host/repo:tag" into repository and tag for display. */
export function splitName(name: string): { repository: string; tag: string } {
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  if (colon > slash) return { repository: name.slice(0, colon), tag: name.slice(colon + 1) };
  return { repository: name, tag: 'latest' };
}

/** The host and port the distribution API of a registry listens on. */
export function apiHost(registry: string): string {
  return registry === DEFAULT_REGISTRY ? 'registry-1.docker.io' : registry;
}
