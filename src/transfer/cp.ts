// `tcr cp SRC DEST`: docker's cp between a container and the host (or a tar
// stream, `-`). Either side is a root fd and a way to resolve paths: the
// container's with openat2(RESOLVE_IN_ROOT), where a symlink resolves as if
// the container's root were '/', the host's as usual. The source is packed
// into a tar (tree-pack.ts) that the destination extracts (tree-extract.ts),
// both through fds only. docker's path rules decide the names:
//   SRC a file: DEST an existing dir gets SRC's name in it; else DEST is the
//     file (its parent must exist; a DEST ending in '/' must be a dir)
//   SRC a dir: DEST an existing dir gets the dir SRC in it (SRC/. : its
//     contents); DEST missing is made, with SRC's contents; DEST a file: refused
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import tar from 'tar-stream';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { O_PATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2 } from '../sys/openat2.js';
import { openContainerRoot, type ContainerRoot, type RootContext } from './container-root.js';
import { writeTarTo } from './tar-output.js';
import { TreeExtractor } from './tree-extract.js';
import { TreePacker, openChild } from './tree-pack.js';

const AT_FDCWD = -100;
const { O_DIRECTORY } = fs.constants;

export type Endpoint = { kind: 'container'; name: string; path: string } | { kind: 'host'; path: string } | { kind: 'stream' };

/** docker's reading of an argument: NAME:PATH, `-`, or a host path (one with a ':' written ./x:y or /x:y). */
export function parseEndpoint(arg: string): Endpoint {
  if (arg === '-') return { kind: 'stream' };
  if (arg.startsWith('/') || arg.startsWith('.')) return { kind: 'host', path: arg };
  const colon = arg.indexOf(':');
  if (colon <= 0) return { kind: 'host', path: arg };
  const p = arg.slice(colon + 1);
  return { kind: 'container', name: arg.slice(0, colon), path: p === '' ? '/' : p };
}

/** Where paths of one side resolve: a root fd and openat2's resolve flags. */
interface Side {
  dirfd: number;
  resolve: number;
  what: string;
  /** cleans the path for this side: a container's are absolute, the host's relative to the cwd */
  clean(p: string): string;
}

function containerSide(root: ContainerRoot): Side {
  return {
    dirfd: root.fd,
    resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    what: root.what,
    clean: (p) => path.posix.normalize(`/${p}`),
  };
}

const hostSide: Side = { dirfd: AT_FDCWD, resolve: 0, what: 'host', clean: (p) => path.posix.normalize(p) };

function open(side: Side, p: string, flags: number): number {
  return openat2(side.dirfd, side.dirfd === AT_FDCWD ? p : p.replace(/^\/+/, '') || '.', O_PATH | flags, side.resolve);
}

function reason(e: unknown, side: Side, p: string): TcrError {
  const code = errnoCode(e);
  if (code === 'ENOENT') return new TcrError(`${side.what}: ${p}: no such file or directory`);
  if (code === 'ENOTDIR') return new TcrError(`${side.what}: ${p}: not a directory`);
  if (code === 'ELOOP') return new TcrError(`${side.what}: ${p}: too many levels of symbolic links`);
  return new TcrError(`${side.what}: ${p}: ${errorMessage(e)}`);
}

interface Source {
  fd: number;
  isDir: boolean;
  /** SRC/. : the directory's contents, not the directory */
  contents: boolean;
  name: string;
}

function openSource(side: Side, raw: string, follow: boolean): Source {
  const clean = side.clean(raw);
  const contents = /(^|\/)\.$/.test(raw) && clean !== '.';
  const wantDir = raw.endsWith('/') || contents;
  const parent = path.posix.dirname(clean);
  const base = path.posix.basename(clean);
  let fd: number;
  try {
    if (follow || wantDir || base === '' || base === '.' || base === '..' || clean === '/') fd = open(side, clean, 0);
    else {
      const pfd = open(side, parent, O_DIRECTORY);
      try {
        fd = openChild(pfd, base);
      } finally {
        fs.closeSync(pfd);
      }
    }
  } catch (e) {
    throw reason(e, side, raw);
  }
  const isDir = fs.fstatSync(fd).isDirectory();
  if (wantDir && !isDir) {
    fs.closeSync(fd);
    throw new TcrError(`${side.what}: ${raw}: not a directory`);
  }
  return { fd, isDir, contents: contents || clean === '/', name: base === '' || base === '/' ? '' : base };
}

interface Target {
  /** the directory the tar is extracted into */
  dirFd: number;
  /** the name the source gets in it ('' : the source's contents go into the directory itself) */
  name: string;
}

function openTarget(side: Side, raw: string, src: Source | 'stream'): Target {
  const clean = side.clean(raw);
  const mustBeDir = raw.endsWith('/') || /(^|\/)\.$/.test(raw);
  let existing: number | undefined;
  try {
    existing = open(side, clean, 0);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw reason(e, side, raw);
  }
  if (existing !== undefined && fs.fstatSync(existing).isDirectory()) {
    if (src === 'stream' || src.contents) return { dirFd: existing, name: '' };
    return { dirFd: existing, name: src.name };
  }
  if (existing !== undefined) fs.closeSync(existing);
  if (src === 'stream') throw new TcrError(`${side.what}: ${raw}: the destination of a tar stream must be an existing directory`);
  if (existing !== undefined && src.isDir) throw new TcrError(`${side.what}: ${raw}: cannot copy a directory to a file`);
  if (existing !== undefined && mustBeDir) throw new TcrError(`${side.what}: ${raw}: not a directory`);
  if (existing === undefined && mustBeDir && !src.isDir) throw new TcrError(`${side.what}: ${raw}: no such directory (it must exist)`);
  const parent = path.posix.dirname(clean);
  let dirFd: number;
  try {
    dirFd = open(side, parent, O_DIRECTORY);
  } catch (e) {
    throw reason(e, side, parent);
  }
  const name = path.posix.basename(clean);
  if (name === '' || name === '.' || name === '..') throw new TcrError(`${side.what}: ${raw}: not a name to create`);
  return { dirFd, name };
}

/** The tar of a source: its node named `name` (its contents at the top when `name` is '' and it is a directory). */
function packSource(src: Source, name: string, owner?: { uid: number; gid: number }): Readable {
  const pack = tar.pack();
  const packer = new TreePacker(pack, { owner });
  const done = src.isDir && name === '' ? packer.children(src.fd, '').finally(() => fs.closeSync(src.fd)) : packer.node(src.fd, name);
  done.then(
    () => pack.finalize(),
    (e: unknown) => pack.destroy(e as Error),
  );
  return pack as unknown as Readable;
}

export interface CpOptions {
  /** -a: owners from the source; otherwise the destination's root (into a container) or the caller (to the host) */
  archive?: boolean;
  /** -L: a symlink SRC is followed */
  followLink?: boolean;
}

export async function copyFiles(ctx: RootContext, srcArg: string, destArg: string, o: CpOptions = {}): Promise<void> {
  const src = parseEndpoint(srcArg);
  const dest = parseEndpoint(destArg);
  if (src.kind === 'container' && dest.kind === 'container') throw new TcrError('tcr cp: copying between containers is not supported');
  if (src.kind !== 'container' && dest.kind !== 'container')
    throw new TcrError('tcr cp: one of SRC and DEST must be a container path, NAME:PATH');
  if (src.kind === 'stream' && dest.kind === 'stream') throw new TcrError('tcr cp: SRC and DEST cannot both be -');
  const root =
    src.kind === 'container' ? openContainerRoot(ctx, src.name, 'read') : openContainerRoot(ctx, (dest as { name: string }).name, 'write');
  const fds: number[] = [];
  try {
    const cside = containerSide(root);
    const sside = src.kind === 'container' ? cside : hostSide;
    const dside = dest.kind === 'container' ? cside : hostSide;
    const owner = o.archive
      ? undefined
      : dest.kind === 'container'
        ? { uid: 0, gid: 0 }
        : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    let stream: Readable;
    let source: Source | 'stream' = 'stream';
    if (src.kind === 'stream') stream = fs.createReadStream('', { fd: 0, autoClose: false });
    else {
      const s = openSource(sside, src.path, !!o.followLink);
      fds.push(s.fd);
      source = s;
      if (dest.kind === 'stream') {
        fds.pop(); // the packer closes it
        return await writeTarTo(1, packSource(s, s.contents ? '' : s.name));
      }
      stream = undefined as never;
    }
    const target = openTarget(dside, (dest as { path: string }).path, source);
    if (target.dirFd !== dside.dirfd) fds.push(target.dirFd);
    if (source !== 'stream') {
      fds.splice(fds.indexOf(source.fd), 1); // the packer closes it
      stream = packSource(source, target.name, owner);
    }
    const what = `${dside.what}: ${(dest as { path: string }).path}`;
    await new TreeExtractor(target.dirFd, { owner: owner ?? 'archive', what }).extract(stream!);
  } finally {
    for (const fd of fds) fs.closeSync(fd);
    root.close();
  }
}
