// Compiled seccomp filters, cached by the profile's content: loading koffi
// and libseccomp is slow, and orchestrators send the same profile for every
// container. The cache lives
// in /run/tcr-cache (root-only, gone at reboot; $TCR_CACHE_DIR elsewhere), not
// in the state root, which an engine owns and expects empty once its
// containers are gone (containerd's, podman's); a filter is keyed by the
// profile and by the libseccomp library file, so an upgrade recompiles.
// The file name is a fast hash of that key and the file holds the key itself,
// compared in full on a hit: a collision costs a compile, never a wrong
// filter, and no create loads node:crypto for a hash.
import fs from 'node:fs';
import path from 'node:path';
import type { Seccomp } from '../spec/types.js';
import type { CompiledSeccomp } from './seccomp.js';

const LIBSECCOMP = ['/usr/lib/x86_64-linux-gnu/libseccomp.so.2', '/lib/x86_64-linux-gnu/libseccomp.so.2'];

function libraryStamp(): string {
  for (const f of LIBSECCOMP) {
    const st = fs.statSync(f, { throwIfNoEntry: false });
    if (st) return `${fs.realpathSync(f)}:${st.size}:${st.mtimeMs}`;
  }
  return 'none';
}

/** Bump whenever compileSeccomp's output for a given profile changes (a fix
 * in how rules are added), so filters cached by an older tcr are not reused.
 * 2: pseudo-syscalls (socketcall, _llseek, ... on x86_64) are passed to
 * libseccomp as runc does, instead of skipped. */
const COMPILER_VERSION = '2';

/** FNV-1a over the UTF-16 units, two 32-bit lanes with different seeds: 16 hex digits. */
function fastHash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

interface CacheFile {
  key: string;
  filter: string;
  flags: number;
  description: string;
}

export function seccompCacheDir(): string {
  return process.env.TCR_CACHE_DIR || '/run/tcr-cache';
}

export async function compileSeccompCached(profile: Seccomp, cacheDir: string): Promise<CompiledSeccomp> {
  const key = `${COMPILER_VERSION}\0${libraryStamp()}\0${JSON.stringify(profile)}`;
  const file = path.join(cacheDir, `seccomp-${fastHash(key)}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheFile;
    if (cached.key === key)
      return { filter: Buffer.from(cached.filter, 'base64'), flags: cached.flags, description: `${cached.description} (cached)` };
  } catch {
    // not compiled yet (or unreadable): compile below
  }
  const { compileSeccomp } = await import('./seccomp.js');
  const compiled = compileSeccomp(profile);
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    const entry: CacheFile = { key, filter: compiled.filter.toString('base64'), flags: compiled.flags, description: compiled.description };
    fs.writeFileSync(tmp, JSON.stringify(entry), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    // a read-only or full state root: the next create compiles again
  }
  return compiled;
}
