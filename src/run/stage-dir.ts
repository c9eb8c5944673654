// A directory that must appear whole or not at all (tcr unpack's bundle): it
// is built under a hidden name next to where it goes, on the same file
// system, and rename(2) puts it in place. rename replaces an empty directory
// and refuses one that is not, so a directory someone fills meanwhile is
// never overwritten.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';

/** What is at the target now: nothing (undefined) or an empty directory; anything else is refused. `dir` is the name the user gave, for messages. */
export function targetState(dir: string, target: string): fs.Stats | undefined {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return undefined;
    throw new TcrError(`${dir}: ${code ?? (e as Error).message}`);
  }
  if (!st.isDirectory())
    throw new TcrError(
      `${dir} exists and is not a directory${st.isSymbolicLink() ? ' (it is a symlink)' : ''}: give a new or empty directory`,
    );
  if (fs.readdirSync(target).length > 0) throw new TcrError(`${dir} exists and is not empty: give a new or empty directory`);
  return st;
}

/** A fresh hidden sibling of `target`, mode 0700 (only its owner can reach what is built in it). */
export function makeStage(dir: string, target: string): string {
  const parent = path.dirname(target);
  try {
    return fs.mkdtempSync(path.join(parent, `.${path.basename(target).slice(0, 200)}.tcr-unpack-`));
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') throw new TcrError(`${dir}: its parent directory ${parent} does not exist`);
    throw new TcrError(`${dir}: cannot create a directory in ${parent} to build it in: ${code ?? (e as Error).message}`);
  }
}

/**
 * Renames the stage to the target. A new target keeps the stage's 0700: a
 * rootfs may hold setuid programs that other users of the host should not
 * reach. An empty directory that was there keeps its mode and owner.
 */
export function commitStage(stage: string, target: string, dir: string, existing: fs.Stats | undefined): void {
  if (existing) {
    fs.chmodSync(stage, existing.mode & 0o7777);
    if (process.geteuid?.() === 0) fs.chownSync(stage, existing.uid, existing.gid);
  }
  try {
    fs.renameSync(stage, target);
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOTEMPTY' || code === 'EEXIST')
      throw new TcrError(`${dir} is not empty any more: something wrote into it while the image was unpacked`);
    if (code === 'ENOTDIR') throw new TcrError(`${dir} was replaced by something that is not a directory while the image was unpacked`);
    throw new TcrError(`${dir}: renaming ${stage} into place: ${code ?? (e as Error).message}`);
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Until the returned function is called, SIGINT, SIGTERM and SIGHUP remove
 * the stage and then end the process by the same signal, as it would have
 * ended without a handler (so a shell sees the signal, not an exit code).
 */
export function removeOnSignal(stage: string): () => void {
  const release = (): void => {
    for (const s of SIGNALS) process.off(s, handler);
  };
  const handler = (signal: NodeJS.Signals): void => {
    fs.rmSync(stage, { recursive: true, force: true });
    release();
    process.kill(process.pid, signal);
  };
  for (const s of SIGNALS) process.on(s, handler);
  return release;
}
