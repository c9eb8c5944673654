// Unpacks one image layer (a tar, plain, gzip or zstd) into a fresh
// directory in overlayfs form, checking its diffID while it streams. The
// layer is hostile input: see layer-writer.ts for how writes stay inside the
// directory, and docs/ARCHITECTURE.md ("Images", the layer unpacker) for
// the whiteout and hard-link rules. On any failure the directory is removed
// and the error names the layer, the entry and the reason.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import { TcrError } from '../errors.js';
import { type Compression, type Stage, compressionOfMediaType, decompressor, detectCompression, peek } from './decompress.js';
import { showName } from './byte-names.js';
import { LayerWriter } from './layer-writer.js';
import { prepareFreshDir } from './overlay-tree.js';
import { EntryFailure, type LayerEntry, entryName, hasContent, patchPaxDecoding, reasonOf, toEntry } from './tar-entry.js';

export { flattenLayers } from './flatten.js';
export type { Compression } from './decompress.js';

export const DEFAULT_MAX_BYTES = 64 * 1024 ** 3;

export interface UnpackOptions {
  /** the layer descriptor's media type; decides the compression unless `compression` is given */
  mediaType?: string;
  /** 'auto' (the default when the media type does not say) looks at the magic bytes */
  compression?: Compression;
  /** "sha256:<hex>" of the uncompressed tar (the config's rootfs.diff_ids entry) */
  expectedDiffId?: string;
  /** refuse a layer whose uncompressed tar is larger than this (default 64 GiB) */
  maxBytes?: number;
  /** the layers below this one, top first: hard links may name their files */
  lowerDirs?: readonly string[];
  /** set owners from the archive (default: when running as root) */
  chown?: boolean;
  /** how messages name the layer (default: expectedDiffId, else dir) */
  label?: string;
}

export interface UnpackResult {
  /** "sha256:<hex>" of the uncompressed tar stream */
  diffId: string;
  /** bytes of the uncompressed tar stream */
  size: number;
  /** hard links to lower layers' files, made copies in overlay form: [copy, target] (LayerWriter.lowerLinks); absent when none */
  lowerLinks?: [string, string][];
}

/** Names the stage a stream error came from (and the entry it cut short, if any). */
function streamReason(err: unknown, compression: string, entry: string | null): string {
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    if (e.code === 'Z_BUF_ERROR') return 'truncated gzip stream';
    return `corrupt gzip stream: ${e.message}`;
  }
  const msg = e instanceof Error ? e.message : '';
  if (msg.startsWith('Unexpected end of data'))
    return entry === null ? 'truncated tar archive' : `entry ${showName(entry)}: truncated: the archive ends inside it`;
  if (msg.startsWith('Invalid tar header') || msg.startsWith('Header exceeds')) {
    const what = msg.startsWith('Header exceeds') ? 'a PAX or long-name header over 4 MiB' : 'invalid tar header';
    return `not a tar archive (${what}${compression === 'none' ? '; or compressed, with a media type that says it is not' : ''})`;
  }
  return reasonOf(err);
}

/** Unpacks the layer tar read from `input` into `dir` (fresh: missing or empty) in overlayfs form. */
export async function unpackLayer(input: Readable, dir: string, opts: UnpackOptions = {}): Promise<UnpackResult> {
  const label = opts.label ?? opts.expectedDiffId ?? dir;
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  let writer: LayerWriter | null = null;
  let prepared = false;
  let compression: Compression = opts.compression ?? (opts.mediaType ? compressionOfMediaType(opts.mediaType) : 'auto');
  try {
    prepareFreshDir(dir);
    prepared = true;
    if (compression === 'auto') compression = detectCompression(await peek(input, 4));
    const w = new LayerWriter(dir, { lowerDirs: opts.lowerDirs ?? [], chown: opts.chown ?? process.getuid?.() === 0 });
    writer = w;

    const hash = createHash('sha256');
    let size = 0;
    async function* measure(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of source) {
        size += chunk.length;
        if (size > maxBytes) throw new TcrError(`the uncompressed layer is larger than the limit of ${maxBytes} bytes`);
        hash.update(chunk);
        yield chunk;
      }
    }

    // names are bytes: latin1 keeps one char per byte, and toEntry() makes
    // them names (byte-names.ts); the default, UTF-8, turns bytes that are
    // not UTF-8 into U+FFFD, so two different names could become one
    // (extract.js reads filenameEncoding; tar-stream's own types omit it)
    const extract = tar.extract({ filenameEncoding: 'latin1' } as Parameters<typeof tar.extract>[0]);
    patchPaxDecoding(extract);
    let current: string | null = null; // the entry being read, for messages
    // Failures name the entry; next() is never called inside the 'entry'
    // event itself, which would recurse once per entry inside tar-stream.
    const failure = (name: string, err: unknown): Error => (err instanceof TcrError ? err : new EntryFailure(name, reasonOf(err)));
    const proceed = (next: (err?: Error) => void): void => {
      current = null;
      queueMicrotask(() => next());
    };
    extract.on('entry', (header, stream, next) => {
      // tar-stream destroys the entry stream with the extractor's error; that
      // error reaches us through the pipeline, so here it needs a listener
      stream.on('error', () => {});
      const name = entryName(header);
      current = name;
      let entry: LayerEntry;
      try {
        entry = toEntry(header);
        if (!hasContent(entry)) {
          stream.resume(); // skip whatever a non-file claims to carry
          w.entry(entry);
          return proceed(next);
        }
        w.beginFile(entry);
      } catch (err) {
        return next(failure(name, err));
      }
      // Writes are synchronous: page-cache writes are fast, and a thread-pool
      // round trip per chunk (or a writer thread, measured) costs more here.
      stream.on('data', (chunk) => {
        try {
          w.write(chunk as Buffer); // streamx types chunks as unknown; tar-stream pushes Buffers
        } catch (err) {
          stream.destroy(failure(entry.raw, err));
        }
      });
      stream.on('end', () => {
        try {
          w.endFile();
        } catch (err) {
          return next(failure(entry.raw, err));
        }
        proceed(next);
      });
    });

    const stages: Stage[] = [];
    const dec = decompressor(compression);
    if (dec !== null) stages.push(dec);
    try {
      await (pipeline as (...s: unknown[]) => Promise<void>)(input, ...stages, measure, extract);
    } catch (err) {
      if (err instanceof EntryFailure) throw err;
      throw new TcrError(streamReason(err, compression, current));
    }
    // before finish(): a directory's final mode may keep even its owner out
    const lowerLinks = w.lowerLinks();
    w.finish();
    const diffId = `sha256:${hash.digest('hex')}`;
    if (opts.expectedDiffId !== undefined && diffId !== opts.expectedDiffId)
      throw new TcrError(`diffID mismatch: the uncompressed layer is ${diffId}, the image config says ${opts.expectedDiffId}`);
    return lowerLinks.length > 0 ? { diffId, size, lowerLinks } : { diffId, size };
  } catch (err) {
    writer?.abort();
    input.destroy();
    // never remove a directory we refused to use (it was not ours)
    if (prepared) fs.rmSync(dir, { recursive: true, force: true });
    throw new TcrError(`layer ${label}: ${err instanceof TcrError ? err.message : reasonOf(err)}`);
  }
}
