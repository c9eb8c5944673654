// File names in a layer are bytes, not text: GNU tar stores whatever bytes
// the file system held, and two names that differ only in bytes that are not
// UTF-8 must stay two files. The unpacker and the flattener carry every name
// as a JS string in one canonical form, so that all their string logic
// (splitting at '/', refusing '..', the maps keyed by path) stays as it is:
//
//   - a name whose bytes are valid UTF-8 is their ordinary decoding (the
//     common case, so ordinary names are ordinary strings);
//   - otherwise each valid UTF-8 sequence is decoded and each other byte
//     becomes a lone surrogate U+DC80..U+DCFF (PEP 383's "surrogateescape").
//
// Valid UTF-8 never decodes to a lone surrogate, so the form is one-to-one
// with byte strings. ASCII bytes ('/', '.', NUL) stand for themselves and a
// UTF-8 sequence never contains one, so the form of "a/b" is the form of "a",
// '/', the form of "b": every check on '/', '.' and '..' sees exactly what
// the kernel will. At each file-system call fsPath() turns a name back into
// what to pass: the string itself, or, when it holds escaped bytes, a Buffer.
import { isUtf8 } from 'node:buffer';

/** What Node's fs (and src/sys/fsops.ts) take as a path. */
export type FsPath = string | Buffer;

// eslint-disable-next-line no-control-regex -- the test is for every 7-bit byte, NUL included
const ASCII = /^[\x00-\x7f]*$/;
/** a low surrogate of the escaped range: a quick test before the exact one */
const MAYBE_ESCAPED = /[\udc80-\udcff]/;
/** an escaped byte: a low surrogate U+DC80..U+DCFF not preceded by a high surrogate */
const ESCAPED = /(?<![\ud800-\udbff])[\udc80-\udcff]/g;

/** The length of the well-formed UTF-8 sequence at b[i] (Unicode 15, table 3-7), or 0. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf): boolean => j < b.length && b[j] >= lo && b[j] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  // E0 excludes overlong forms, ED the encoded surrogates
  if (c >= 0xe0 && c <= 0xef) return cont(i + 1, c === 0xe0 ? 0xa0 : 0x80, c === 0xed ? 0x9f : 0xbf) && cont(i + 2) ? 3 : 0;
  // F0 excludes overlong forms, F4 code points above U+10FFFF
  if (c >= 0xf0 && c <= 0xf4) return cont(i + 1, c === 0xf0 ? 0x90 : 0x80, c === 0xf4 ? 0x8f : 0xbf) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

/** The name that the bytes `b` spell (see the top of this file). */
export function nameFromBytes(b: Buffer): string {
  if (isUtf8(b)) return b.toString('utf8');
  let out = '';
  let start = 0; // the start of the run of valid sequences not yet decoded
  for (let i = 0; i < b.length;) {
    const n = sequenceLength(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    out += b.toString('utf8', start, i) + String.fromCharCode(0xdc00 + b[i]);
    start = ++i;
  }
  return out + b.toString('utf8', start);
}

/**
 * The name in a string that holds one byte per char: how the unpacker has
 * tar-stream read header names (filenameEncoding 'latin1'), so that no byte
 * is lost before it gets here.
 */
export function nameFromLatin1(s: string): string {
  return ASCII.test(s) ? s : nameFromBytes(Buffer.from(s, 'latin1'));
}

/** The bytes a name stands for. */
export function nameBytes(name: string): Buffer {
  if (!MAYBE_ESCAPED.test(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let start = 0;
  for (const m of name.matchAll(ESCAPED)) {
    const i = m.index;
    parts.push(Buffer.from(name.slice(start, i), 'utf8'), Buffer.of(name.charCodeAt(i) - 0xdc00));
    start = i + 1;
  }
  parts.push(Buffer.from(name.slice(start), 'utf8'));
  return Buffer.concat(parts);
}

/** A name (or a path that ends in names) as a file-system call takes it: byte-exact. */
export function fsPath(name: string): FsPath {
  return MAYBE_ESCAPED.test(name) ? nameBytes(name) : name;
}

/** How many bytes a name is (what PATH_MAX counts). */
export function nameByteLength(name: string): number {
  return MAYBE_ESCAPED.test(name) ? nameBytes(name).length : Buffer.byteLength(name);
}

/** A name for messages, unquoted: escaped bytes shown as \xNN. */
export function printableName(name: string): string {
  return name.replace(ESCAPED, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`);
}

/** A name for messages, quoted like JSON.stringify, with escaped bytes shown as \xNN. */
export function showName(name: string): string {
  // JSON.stringify writes a lone surrogate as \udcNN; an escaped backslash before it is "\\"
  return JSON.stringify(name).replace(/(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])/g, '$1\\x$2');
}
