// The root filesystem of a container, as an O_PATH fd for tcr cp and export.
// A running (or created) container: /proc/PID/root, which sees the
// container's own mounts (its volumes, tmpfs), as docker's cp does. A
// stopped image container has no mounted root (its overlay goes at exit,
// the upper dir stays): an overlay of its layers is mounted for the while,
// under its directory, read-only when only read, and unmounted after.
import fs from 'node:fs';
import path from 'node:path';
import { Runtime } from '../container/runtime.js';
import { resolveContainer } from '../container/names.js';
import { TcrError, errnoCode, errorMessage } from '../errors.js';
import { ImageStore } from '../image/store.js';
import { containerDir } from '../run/image-run.js';
import { native } from '../sys/native.js';
import { O_PATH } from '../sys/openat2.js';

const MS_RDONLY = 1;
const MNT_DETACH = 2;

export interface ContainerRoot {
  fd: number;
  /** "container web" for messages */
  what: string;
  close(): void;
}

export interface RootContext {
  runtimeRoot: string;
  store: ImageStore;
}

/**
 * `mode`: read (cp out), write (cp in) or export (the image's files and the
 * container's changes only, never its mounts: always a private overlay).
 */
export function openContainerRoot(ctx: RootContext, given: string, mode: 'read' | 'write' | 'export'): ContainerRoot {
  const rt = new Runtime({ root: ctx.runtimeRoot });
  let name: string;
  try {
    name = resolveContainer(rt.store.root, given); // by a name rename gave it too
  } catch {
    throw new TcrError(`no such container: ${given}`);
  }
  if (!rt.store.exists(name)) throw new TcrError(`no such container: ${given}`);
  const c = rt.container(name);
  const what = `container ${name}`;
  const status = c.status();
  if (mode !== 'export' && status !== 'stopped') {
    const pid = c.record().pid;
    const fd = fs.openSync(`/proc/${pid}/root`, O_PATH | fs.constants.O_DIRECTORY);
    return { fd, what, close: () => fs.closeSync(fd) };
  }
  return mountPrivateRoot(ctx.store, name, what, mode === 'write');
}

function mountPrivateRoot(store: ImageStore, name: string, what: string, writable: boolean): ContainerRoot {
  const dir = containerDir(store, name);
  let use: { layers?: unknown };
  try {
    use = JSON.parse(fs.readFileSync(path.join(dir, 'image.json'), 'utf8')) as typeof use;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT')
      throw new TcrError(`${what} is stopped and was not started from an image (tcr run IMAGE): its files are in its bundle's rootfs`);
    throw e;
  }
  const layers = (Array.isArray(use.layers) ? use.layers : []).map((d) => store.layerDir(String(d))).reverse();
  for (const l of layers) if (!fs.existsSync(l)) throw new TcrError(`${what}: its layer ${l} is missing from the image store`);
  const upper = path.join(dir, 'upper');
  const rootfs = path.join(dir, 'rootfs');
  if (!fs.existsSync(upper)) {
    // made where overlayfs was missing: its layers were copied into rootfs, which is its root
    const fd = fs.openSync(rootfs, O_PATH | fs.constants.O_DIRECTORY);
    return { fd, what, close: () => fs.closeSync(fd) };
  }
  removeStaleMounts(dir);
  const target = fs.mkdtempSync(path.join(dir, `cp-${process.pid}-`));
  try {
    if (writable) {
      native().mount('overlay', target, 'overlay', 0, `lowerdir=${layers.join(':')},upperdir=${upper},workdir=${path.join(dir, 'work')}`);
    } else {
      // the upper dir as the top lower one: its whiteouts and opaque dirs count, nothing can be written
      native().mount('overlay', target, 'overlay', MS_RDONLY, `lowerdir=${[upper, ...layers].join(':')}`);
    }
  } catch (e) {
    fs.rmdirSync(target);
    throw new TcrError(`${what}: cannot mount its root filesystem at ${target}: ${errorMessage(e)}`);
  }
  let fd: number;
  try {
    fd = fs.openSync(target, O_PATH | fs.constants.O_DIRECTORY);
  } catch (e) {
    native().umount(target, MNT_DETACH);
    fs.rmdirSync(target);
    throw e;
  }
  const undo = () => {
    native().umount(target, MNT_DETACH);
    fs.rmdirSync(target);
  };
  // a tcr killed meanwhile (a reader of its output gone, ^C) unmounts first, then dies of the signal
  const onSignal = (signal: NodeJS.Signals) => {
    for (const s of SIGNALS) process.off(s, onSignal);
    undo();
    process.kill(process.pid, signal);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  return {
    fd,
    what,
    close: () => {
      for (const s of SIGNALS) process.off(s, onSignal);
      fs.closeSync(fd);
      undo();
    },
  };
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** The mounts of copies whose tcr died without unmounting (SIGKILL, a crash): cp-PID-* of a pid that is gone. */
function removeStaleMounts(dir: string): void {
  for (const name of fs.readdirSync(dir)) {
    const pid = /^cp-(\d+)-/.exec(name)?.[1];
    if (!pid || fs.existsSync(`/proc/${pid}`)) continue;
    try {
      native().umount(path.join(dir, name), MNT_DETACH);
    } catch (e) {
      if (errnoCode(e) !== 'EINVAL') throw new TcrError(`${path.join(dir, name)}: left mounted by an earlier copy: ${errorMessage(e)}`);
    }
    fs.rmdirSync(path.join(dir, name));
  }
}
