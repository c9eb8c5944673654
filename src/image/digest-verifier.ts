// The streaming side of content addressing (src/image/digest.ts): a
// module of its own because defining a Transform subclass loads node:stream,
// which a run of an image already in the store never needs.
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { TcrError } from '../errors.js';
import { DigestMismatchError, checkDigest } from './digest.js';

/**
 * A pass-through stream that hashes what flows through it and fails, at the
 * end, unless the digest matches; it fails at once when more bytes arrive
 * than the descriptor's size, so a hostile source cannot stream forever.
 */
export class DigestVerifier extends Transform {
  private hash = crypto.createHash('sha256');
  bytes = 0;
  /** Set once the whole stream matched. */
  verified = false;
  onProgress?: (bytes: number) => void;

  constructor(
    private expected: { digest: string; size?: number },
    private what: string,
  ) {
    super();
    checkDigest(expected.digest, what);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expected.size !== undefined && this.expected.size >= 0 && this.bytes > this.expected.size) {
      cb(new TcrError(`${this.what}: more data than the ${this.expected.size} bytes its descriptor declares; refused`));
      return;
    }
    this.hash.update(chunk);
    this.onProgress?.(this.bytes);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected.size !== undefined && this.expected.size >= 0 && this.bytes !== this.expected.size) {
      cb(new TcrError(`${this.what}: truncated: got ${this.bytes} of the ${this.expected.size} bytes its descriptor declares`));
      return;
    }
    const actual = 'sha256:' + this.hash.digest('hex');
    if (actual !== this.expected.digest) {
      cb(new DigestMismatchError(this.what, this.expected.digest, actual));
      return;
    }
    this.verified = true;
    cb();
  }
}
