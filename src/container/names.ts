// Container names that are not the container's id. tcr's id is the name a
// container was made with: its state directory <root>/ID, its store
// directory, its cgroup, its monitor and health checker (which run with the
// id in hand) all go by it. `tcr rename` of a running container keeps the id,
// as docker does, and gives it a name: <root>/.names/NAME holds the id. Why
// this and not moving the directories: the running container's mounts, its
// netns pin, its cgroup (a cgroup v2 directory cannot be renamed) and the
// processes that watch it know the old paths, and no rename could tell them
// all at once; a name that only the CLI reads changes nothing under them.
//
// Every command line lookup of a container goes through resolveContainer
// (src/cli/name-lookup.ts applies it to each command's container arguments):
// a name finds its id; a container that has a name is no longer found by its
// id, so the old name is "does not exist" and can be taken again (the new
// container gets a random id when the old one still holds the directory).
// An entry is removed with its container (StateStore.remove), but not when
// a restart forgets the stopped launch (its directory comes back with the
// next); one whose container is gone anyway is stale: ignored, and taken
// over by the next setName of that name.
import fs from 'node:fs';
import path from 'node:path';
import { TcrError, errnoCode } from '../errors.js';

const NAMES = '.names';

function namesDir(root: string): string {
  return path.join(root, NAMES);
}

/** Every entry name → id, stale ones included. */
function entries(root: string): Map<string, string> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = fs.readdirSync(namesDir(root));
  } catch {
    return out;
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    try {
      out.set(n, fs.readFileSync(path.join(namesDir(root), n), 'utf8'));
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

function live(root: string, id: string): boolean {
  return !!id && fs.existsSync(path.join(root, id));
}

/** The id that the name `name` was given to, if a container has that name. */
export function idForName(root: string, name: string): string | undefined {
  let id: string;
  try {
    id = fs.readFileSync(path.join(namesDir(root), name), 'utf8');
  } catch {
    return undefined;
  }
  return live(root, id) ? id : undefined;
}

/** The name a container is shown by: its entry's, else its id. */
export function nameOf(root: string, id: string): string {
  for (const [n, i] of entries(root)) if (i === id && live(root, i)) return n;
  return id;
}

/** The id a command line's container argument means; a container known by another name is not found by its id. */
export function resolveContainer(root: string, given: string): string {
  // no container here was ever renamed: every argument is an id (one check instead of two failing reads)
  if (!fs.existsSync(namesDir(root))) return given;
  const id = idForName(root, given);
  if (id !== undefined) return id;
  if (given.includes('/') || given.startsWith('.')) return given; // no name of ours: the caller's own check speaks
  if (live(root, given) && nameOf(root, given) !== given) throw new TcrError(`container ${given} does not exist`);
  return given;
}

/** True when a container has, or is known by, `name`. */
export function nameTaken(root: string, name: string): boolean {
  return idForName(root, name) !== undefined || (live(root, name) && nameOf(root, name) === name);
}

/** Gives `id` the name `name` (taken atomically: two renames to one name cannot both win); its other names go. */
export function setName(root: string, id: string, name: string): void {
  fs.mkdirSync(namesDir(root), { recursive: true, mode: 0o711 });
  const file = path.join(namesDir(root), name);
  const tmp = path.join(namesDir(root), `.${name}.${process.pid}`);
  fs.writeFileSync(tmp, id);
  try {
    // a stale entry (its container gone) is taken over; a live one is another container's
    if (fs.existsSync(file) && idForName(root, name) === undefined) fs.rmSync(file, { force: true });
    fs.linkSync(tmp, file);
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') throw new TcrError(`the container name ${JSON.stringify(name)} is already in use`);
    throw e;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  for (const [n, i] of entries(root)) if (i === id && n !== name) fs.rmSync(path.join(namesDir(root), n), { force: true });
}

/** The entries of `id`, at its removal (a stale one of another is left: ignored, and taken over by setName). */
export function dropNames(root: string, id: string): void {
  for (const [n, i] of entries(root)) if (i === id) fs.rmSync(path.join(namesDir(root), n), { force: true });
}
