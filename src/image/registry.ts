// A client of the OCI distribution API (what docker, podman and skopeo
// speak to registries), as far as pulling needs: manifests and blobs, with
// token or basic auth, retries with backoff on network errors, 5xx and 429,
// and plain HTTP only for localhost and hosts listed in
// $TCR_INSECURE_REGISTRIES (comma separated host[:port]). Nothing a registry
// sends is trusted: import.ts checks every byte against its digest.
import { Readable, Transform } from 'node:stream';
import { TcrError, errorMessage } from '../errors.js';
import { log } from '../log.js';
import { DigestMismatchError, readLimited, sha256 } from './digest.js';
import { MAX_METADATA, spent, withRetries, type ImageSource } from './import.js';
import { apiHost } from './reference.js';
import { requireExtraCaCerts } from './extra-ca.js';
import { basicHeader, fetchToken, findCredentials, parseChallenges, type Credentials } from './registry-auth.js';
import { MEDIA, type Descriptor } from './types.js';

const MANIFEST_ACCEPT = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest].join(', ');

/** An error worth another try (network, 5xx, 429). */
export class TransientError extends TcrError {
  /** cleared once retried enough (see spent()) */
  transient = true;
}

export class NotFoundError extends TcrError {}

export interface RegistryOptions {
  env?: NodeJS.ProcessEnv;
  /** tries per request (default 4) */
  attempts?: number;
  /** ms before the first retry, doubling (default 500) */
  backoff?: number;
  /** where retry notices go (default: a warning on stderr); a progress display passes its own */
  notify?: (text: string) => void;
}

export function isInsecure(registry: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)) return true;
  const list = (env.TCR_INSECURE_REGISTRIES ?? '').split(/[\s,]+/).filter(Boolean);
  return list.includes(registry) || list.includes(host);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What a failed fetch() means, in words: "connection refused", "no such host". */
function networkReason(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const code = cause?.code;
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'name lookup failed (no network?)',
    ETIMEDOUT: 'timed out',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
  };
  return (code && words[code]) ?? cause?.message ?? errorMessage(e);
}

export class RegistryClient {
  readonly base: string;
  private auth: string | undefined;
  private creds: Credentials | undefined | null = null;
  private env: NodeJS.ProcessEnv;

  constructor(
    readonly registry: string,
    private opts: RegistryOptions = {},
  ) {
    this.env = opts.env ?? process.env;
    this.base = `${isInsecure(registry, this.env) ? 'http' : 'https'}://${apiHost(registry)}`;
    requireExtraCaCerts(this.base);
  }

  private credentials(repository: string): Credentials | undefined {
    if (this.creds === null) this.creds = findCredentials(this.registry, repository, this.env);
    return this.creds;
  }

  /**
   * GET with auth and retries. A 401 is answered once per request by
   * fetching a token (or using basic credentials), as the challenge asks.
   */
  async get(repository: string, urlPath: string, accept: string, what: string): Promise<Response> {
    const url = `${this.base}/v2/${repository}/${urlPath}`;
    const attempts = this.opts.attempts ?? 4;
    let authTried = false;
    for (let attempt = 1; ; attempt++) {
      let res: Response | undefined;
      let failure: TcrError | undefined;
      try {
        const headers: Record<string, string> = { Accept: accept, 'User-Agent': 'tcr' };
        if (this.auth) headers.Authorization = this.auth;
        res = await fetch(url, { headers, redirect: 'follow' });
      } catch (e) {
        failure = new TransientError(`cannot reach registry ${this.registry} (${this.base}): ${networkReason(e)}`);
      }
      if (res?.status === 401 && !authTried) {
        authTried = true;
        await res.body?.cancel();
        await this.authenticate(res.headers.get('www-authenticate') ?? '', repository);
        attempt--;
        continue;
      }
      if (res && (res.status >= 500 || res.status === 429)) {
        await res.body?.cancel();
        failure = new TransientError(`registry ${this.registry}: ${what}: server answered ${res.status} ${res.statusText}`);
      }
      if (!failure && res) return this.checkStatus(res, repository, what);
      if (attempt >= attempts) throw spent(failure);
      const retryAfter = Number(res?.headers.get('retry-after'));
      const wait =
        Number.isFinite(retryAfter) && retryAfter > 0
          ? Math.min(retryAfter * 1000, 30_000)
          : (this.opts.backoff ?? 500) * 2 ** (attempt - 1);
      this.notify(`${failure!.message}; retrying in ${wait} ms (attempt ${attempt + 1} of ${attempts})`);
      await sleep(wait);
    }
  }

  private async checkStatus(res: Response, repository: string, what: string): Promise<Response> {
    if (res.ok) return res;
    await res.body?.cancel();
    if (res.status === 404) throw new NotFoundError(`${what}: not found in registry ${this.registry}`);
    if (res.status === 401 || res.status === 403) {
      const creds = this.credentials(repository);
      throw new NotFoundError(
        creds
          ? `${what}: registry ${this.registry} refused access to ${repository} for user ${JSON.stringify(creds.username)} (from ${creds.file}): it does not exist or that user may not pull it`
          : `${what}: registry ${this.registry} refused access to ${repository}: it does not exist, or it needs a login (no credentials for it were found)`,
      );
    }
    throw new TcrError(`registry ${this.registry}: ${what}: server answered ${res.status} ${res.statusText}`);
  }

  private async authenticate(header: string, repository: string, actions = 'pull'): Promise<void> {
    const challenges = parseChallenges(header);
    const creds = this.credentials(repository);
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    if (bearer) {
      const token = await fetchToken(
        bearer,
        `repository:${repository}:${actions}`,
        creds,
        this.registry,
        isInsecure(this.registry, this.env),
      );
      this.auth = `Bearer ${token}`;
      return;
    }
    if (challenges.some((c) => c.scheme === 'basic') && creds) {
      this.auth = basicHeader(creds);
      return;
    }
    // no way to authenticate: the 401 that follows produces the error
    this.auth = undefined;
  }

  /**
   * One request with push rights (`tcr push`): a 401 is answered once by a
   * token for pull,push (or basic credentials), then the request is sent
   * again, so its body must be a Buffer. No retries: an upload is not
   * safely repeated half-way. `url` is a path below /v2/REPOSITORY/ or an
   * absolute upload location.
   */
  async send(
    repository: string,
    url: string,
    init: { method: string; headers?: Record<string, string>; body?: Buffer },
  ): Promise<Response> {
    const target = /^https?:/.test(url) ? url : `${this.base}/v2/${repository}/${url}`;
    for (let authTried = false; ; authTried = true) {
      const headers: Record<string, string> = { 'User-Agent': 'tcr', ...init.headers };
      if (this.auth) headers.Authorization = this.auth;
      let res: Response;
      try {
        res = await fetch(target, { method: init.method, headers, body: init.body, redirect: 'follow' });
      } catch (e) {
        throw new TcrError(`cannot reach registry ${this.registry} (${this.base}): ${networkReason(e)}`);
      }
      if (res.status !== 401 || authTried) return res;
      await res.body?.cancel();
      await this.authenticate(res.headers.get('www-authenticate') ?? '', repository, 'pull,push');
    }
  }

  /** A manifest or index by tag or digest, and its media type. */
  async getManifest(repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const what = `manifest ${this.registry}/${repository}:${reference}`.replace(':sha256:', '@sha256:');
    return withRetries(() => this.getManifestOnce(repository, reference, what), {
      ...this.opts,
      onRetry: (e, wait, attempt) =>
        this.notify(`${errorMessage(e)}; retrying in ${wait} ms (attempt ${attempt + 1} of ${this.opts.attempts ?? 4})`),
    });
  }

  private notify(text: string): void {
    if (this.opts.notify) this.opts.notify(text);
    else log.warn(text);
  }

  private async getManifestOnce(
    repository: string,
    reference: string,
    what: string,
  ): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const res = await this.get(repository, `manifests/${reference}`, MANIFEST_ACCEPT, what);
    const declared = Number(res.headers.get('content-length'));
    if (declared > MAX_METADATA) {
      await res.body?.cancel();
      throw new TcrError(`${what}: ${declared} bytes; refused (a manifest is never that big)`);
    }
    const body = Readable.fromWeb(res.body! as never);
    const bytes = await readLimited(body, MAX_METADATA, what).catch((e) => {
      throw e instanceof TcrError ? e : new TransientError(`${what}: download interrupted: ${networkReason(e)} (from ${this.registry})`);
    });
    const digest = sha256(bytes);
    // the registry's own claim must agree with what it sent
    const claimed = res.headers.get('docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) throw new DigestMismatchError(what, claimed, digest);
    return { bytes, mediaType: (res.headers.get('content-type') ?? '').split(';')[0].trim(), digest };
  }

  /** A blob's bytes as they stream; a connection lost mid-way is a TransientError. */
  async getBlob(repository: string, desc: Descriptor): Promise<Readable> {
    const what = `blob ${desc.digest} of ${this.registry}/${repository}`;
    const res = await this.get(repository, `blobs/${desc.digest}`, '*/*', what);
    const body = Readable.fromWeb(res.body! as never);
    const registry = this.registry;
    const tagged = new Transform({
      transform(chunk, _enc, cb) {
        cb(null, chunk);
      },
    });
    body.on('error', (e) => tagged.destroy(new TransientError(`${what}: download interrupted: ${networkReason(e)} (from ${registry})`)));
    tagged.on('close', () => body.destroy());
    return body.pipe(tagged);
  }

  /** The ImageSource of one repository, for import.ts. */
  source(repository: string): ImageSource {
    return {
      description: `${this.registry}/${repository}`,
      fetchManifest: async (desc) => (await this.getManifest(repository, desc.digest)).bytes,
      fetchBlob: (desc) => this.getBlob(repository, desc),
    };
  }
}
