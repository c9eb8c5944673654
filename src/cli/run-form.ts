// `tcr run` has two forms: runc's `run [--bundle DIR] ID` (the bundle is the
// working directory unless --bundle says otherwise) and docker's
// `run [flags] IMAGE [COMMAND...]`. A docker user who types `run busybox` in
// a directory that happens to hold a config.json must get busybox, so the
// bundle form is taken only when nothing says "image":
//   1. --bundle/-b given: bundle (docker's flags are then an error);
//   2. a docker-only flag given (-e, --rm, --name, ...): image (runc-only flags are then an error);
//   3. a runc-only flag given (--keep, --pid-file, --no-pivot, ...): bundle;
//   4. a command after the first argument, or no config.json here: image;
//   5. a first argument runc could not take as an id (a tag, registry, path or
//      digest: ':', '/', '@'), or one that names an image in the store: image;
//   6. otherwise (a plain id, config.json here): bundle.
// -d/--detach belongs to both.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { BUNDLE_RUN_FLAGS, IMAGE_RUN_FLAGS, parseFlagDef, type FlagDef } from './shapes.js';

export type RunForm = 'bundle' | 'image';

const SHARED = new Set(['detach']);
const keysOf = (defs: FlagDef[]) =>
  new Map(
    defs
      .map((d) => parseFlagDef(d))
      .filter((f) => !SHARED.has(f.key))
      .map((f) => [f.key, f.long]),
  );
const RUNC_ONLY = keysOf(BUNDLE_RUN_FLAGS);
const DOCKER_ONLY = keysOf(IMAGE_RUN_FLAGS);

/** What runc takes as a container id (src/container/state-store.ts validateId). */
const RUNC_ID = /^[\w+\-.]+$/;

export interface RunFormProbe {
  /** is there a config.json in the working directory */
  hasConfig(): boolean;
  /** does `name` name an image in the store */
  isImage(name: string): Promise<boolean>;
}

/**
 * Which form a `run` is, from the keys of the flags given on the command
 * line (commander's keys: pidFile, pivot, envFile, ...) and the positionals.
 */
export async function runForm(given: Iterable<string>, positionals: string[], probe: RunFormProbe): Promise<RunForm> {
  const keys = [...given];
  const runcOnly = keys.filter((k) => RUNC_ONLY.has(k));
  const dockerOnly = keys.filter((k) => DOCKER_ONLY.has(k));
  const names = (ks: string[], m: Map<string, string>) => ks.map((k) => m.get(k)).join(', ');
  if (runcOnly.length && dockerOnly.length) {
    throw new TcrError(
      `run: ${names(dockerOnly, DOCKER_ONLY)} ${dockerOnly.length > 1 ? 'are' : 'is'} for an image (run [flags] IMAGE), ${names(runcOnly, RUNC_ONLY)} for a bundle (run --bundle DIR ID): use one form`,
    );
  }
  if (runcOnly.length) return 'bundle';
  if (dockerOnly.length || positionals.length !== 1 || !probe.hasConfig()) return 'image';
  const first = positionals[0];
  if (!RUNC_ID.test(first) || (await probe.isImage(first))) return 'image';
  return 'bundle';
}

/** The probe of a real command line: the working directory, and the image store given by --store or $TCR_STORE. */
export function hostProbe(storeRoot: string | undefined): RunFormProbe {
  return {
    hasConfig: () => fs.existsSync('config.json'),
    async isImage(name) {
      // an id prefix could be any runc id made of hex digits: only a name or a whole id counts
      if (/^[0-9a-f]{1,63}$/.test(name)) return false;
      const { ImageStore, defaultStoreRoot } = await import('../image/store.js');
      try {
        return new ImageStore({ root: storeRoot ?? defaultStoreRoot() }).resolve(name) !== undefined;
      } catch {
        return false; // an unreadable store holds no image to prefer
      }
    },
  };
}
