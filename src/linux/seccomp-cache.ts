// Compiled seccomp filters, cached by the profile's content: loading koffi
// and libseccomp costs ~20 ms, more than the rest of a create, and
// orchestrators send the same profile for every container. The cache lives
// in the runtime's state root (root-only, on tmpfs); a filter is keyed by the
// profile and by the libseccomp library file, so an upgrade recompiles.
import crypto from 'node:crypto';
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

export async function compileSeccompCached(profile: Seccomp, cacheDir: string): Promise<CompiledSeccomp> {
  const key = crypto.createHash('sha256').update(COMPILER_VERSION).update('\0').update(libraryStamp()).update('\0').update(JSON.stringify(profile)).digest('hex');
  const file = path.join(cacheDir, `seccomp-${key}.json`);
  try {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8')) as { filter: string; flags: number; description: string };
    return { filter: Buffer.from(cached.filter, 'base64'), flags: cached.flags, description: `${cached.description} (cached)` };
  } catch {
    // not compiled yet (or unreadable): compile below
  }
  const { compileSeccomp } = await import('./seccomp.js');
  const compiled = compileSeccomp(profile);
  try {
    fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify({ filter: compiled.filter.toString('base64'), flags: compiled.flags, description: compiled.description }), { mode: 0o600 });
    fs.renameSync(tmp, file);
  } catch {
    // a read-only or full state root: the next create compiles again
  }
  return compiled;
}
