// Content addressing: every byte tcr takes from an image source is checked
// against the digest (and size) that named it, while it streams, so a
// corrupt or hostile blob is refused before it is trusted or stored.
import crypto from 'node:crypto';
import { TcrError } from '../errors.js';
import { DIGEST } from './reference.js';

export function sha256(data: Buffer | string): string {
  return 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');
}

/** Refuses a digest that is not sha256:<64 hex>; `what` names where it came from. */
export function checkDigest(digest: unknown, what: string): string {
  if (typeof digest !== 'string' || !DIGEST.test(digest)) {
    throw new TcrError(`${what}: ${JSON.stringify(digest)} is not a supported digest (tcr accepts sha256:<64 lowercase hex digits>)`);
  }
  return digest;
}

export function hexOf(digest: string): string {
  return checkDigest(digest, 'digest').slice(7);
}

export class DigestMismatchError extends TcrError {
  constructor(
    readonly what: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${what}: digest mismatch: expected ${expected}, got ${actual}; the data is corrupt or was tampered with, and was not stored`);
    this.name = 'DigestMismatchError';
  }
}

/** Checks a whole buffer (a manifest, a config) against its descriptor. */
export function verifyBuffer(data: Buffer, expected: { digest: string; size?: number }, what: string): void {
  if (expected.size !== undefined && data.length !== expected.size) {
    throw new TcrError(
      `${what}: size mismatch: expected ${expected.size} bytes, got ${data.length}; the data is corrupt or was tampered with`,
    );
  }
  const actual = sha256(data);
  if (actual !== expected.digest) throw new DigestMismatchError(what, expected.digest, actual);
}

/** Reads a stream into memory, refusing more than `limit` bytes (manifests and configs are small). */
export async function readLimited(stream: NodeJS.ReadableStream, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) {
      (stream as unknown as { destroy?: () => void }).destroy?.();
      throw new TcrError(`${what}: larger than ${limit} bytes; refused (a manifest or config is never that big)`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}
