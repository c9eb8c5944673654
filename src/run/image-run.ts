// `tcr run IMAGE [CMD...]`: the image from the store (pulled or loaded when
// missing), an overlay of its layers as the root, a config.json made from
// the image and the flags, then the same create/start/wait as runc's `run`.
import fs from 'node:fs';
import path from 'node:path';
import { Runtime } from '../container/runtime.js';
import { TcrError, errnoCode } from '../errors.js';
import { log } from '../log.js';
import { ImageStore } from '../image/store.js';
import { getImage, type PullPolicy } from '../image/get-image.js';
import { parseImageRef } from '../image/reference.js';
import { runAsMappedRoot } from '../image/userns-exec.js';
import { isRootless } from '../container/rootless.js';
import { rootlessNetwork } from './rootless-image.js';
import { parsePlatform } from '../image/platform.js';
import { defaultHostname, draftImageSpec, finishImageSpec } from './image-spec.js';
import { hostHasSwapAccounting } from '../cgroups/detect.js';
import { randomHex } from '../sys/random.js';
import { removeTree } from '../sys/remove-tree.js';
import { noHostFlags, type ImageRunOptions } from './options.js';
import { namespaceJoins } from './namespace-flags.js';
import { shareShm } from './shared-shm.js';
import { nameTaken, setName } from '../container/names.js';
import { attachmentsOf } from '../network/record.js';
import { writeLaunchFile } from './monitor-files.js';
import { startMonitor } from './monitor-start.js';
import { recordCreated } from './created-record.js';
import { parseRestartPolicy } from './restart-policy.js';
import { foregroundLog, type ForegroundLog } from './foreground-log.js';
import { resolveHealth } from './health.js';
import { parseMountFlags } from '../volumes/mount-flags.js';
import { VolumeStore } from '../volumes/store.js';
import { volumesFromRequests } from '../volumes/volumes-from.js';
import { attachVolumes, detachVolumes, nameVolumes, specMounts, type Attached } from '../volumes/attach.js';

/** The rootfs where overlayfs is unavailable: the layers copied (the unpacking bundle, loaded only then). */
async function copyLayers(bottomFirst: string[], target: string): Promise<void> {
  (await import('../image/flatten.js')).flattenLayers(bottomFirst, target);
}

export interface ImageRunContext {
  runtime: Runtime;
  store: ImageStore;
}

/** Where an image container keeps its bundle, overlay dirs and log. */
export function containerDir(store: ImageStore, id: string): string {
  return path.join(store.root, 'containers', id);
}

export function logFile(store: ImageStore, id: string): string {
  return path.join(containerDir(store, id), 'container.log');
}

/**
 * `tcr rm` of a container whose state is gone (a reboot empties /run/tcr)
 * but whose directory stayed in the store: the directory goes, unless
 * something is still mounted in it. False when there is no such directory.
 */
export function removeLeftover(store: ImageStore, id: string): boolean {
  const dir = containerDir(store, id);
  if (!fs.existsSync(dir)) return false;
  const mounted = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && (m === dir || m.startsWith(dir + '/')));
  if (mounted.length)
    throw new TcrError(
      `container ${id} has no state, but ${mounted.join(', ')} ${mounted.length > 1 ? 'are' : 'is'} still mounted: unmount, then tcr rm ${id} again`,
    );
  try {
    fs.rmSync(dir, { recursive: true, force: true }); // force: a monitor's --rm may be removing it too
  } catch (e) {
    if (!isRootless()) throw e;
    removeTree(dir); // files of the user's range: as root of their namespace
  }
  return true;
}

/**
 * An ordinary user's pull before a run: in a user namespace of their ids
 * (src/image/userns-exec.ts), as `tcr pull` does; what is left for getImage
 * then is to find the image. An archive or layout imports in this process.
 */
function pullAsUser(store: ImageStore, o: ImageRunOptions): PullPolicy {
  const policy = o.pull ?? 'missing';
  if (policy === 'never' || parseImageRef(o.image).transport !== 'docker') return policy;
  if (policy === 'missing' && store.resolve(o.image) !== undefined) return policy;
  const status = runAsMappedRoot(['pull', ...(o.platform ? ['--platform', o.platform] : []), o.image], store.root, {
    stdoutToStderr: true,
  });
  if (status !== 0) throw new TcrError(`pulling ${o.image} failed (exit status ${status}): see above`, 125);
  return 'missing';
}

/** A memory-swap limit needs swap accounting: without it, as docker does, a warning and the memory limit alone. */
function withSwapIfAccounted(o: ImageRunOptions): ImageRunOptions {
  if (o.memorySwap === undefined || hostHasSwapAccounting()) return o;
  log.warn(
    'this kernel does not account swap per cgroup (no memory.memsw.limit_in_bytes or memory.swap.max): memory is limited without swap, --memory-swap is ignored',
  );
  return { ...o, memorySwap: undefined };
}

/** --cidfile: made, never overwritten (a file that appeared since the check is another run's). */
function writeCidfile(file: string, id: string): void {
  try {
    fs.writeFileSync(file, id, { flag: 'wx', mode: 0o644 });
  } catch (e) {
    throw new TcrError(`--cidfile: cannot write ${file}: ${errnoCode(e) ?? (e as Error).message}`);
  }
}

/** Resolves with the container id and its exit status (0 at once for --detach). */
export async function runImage(o: ImageRunOptions, ctx: ImageRunContext): Promise<{ id: string; status: number }> {
  if (isRootless()) o = rootlessNetwork(o);
  const restart = parseRestartPolicy(o.restart);
  if (restart.name !== 'no' && o.rm)
    throw new TcrError(`--restart ${o.restart} with --rm: a container removed at its exit cannot be restarted`, 125);
  if (o.health?.cmd !== undefined && !o.detach && !o.createOnly)
    throw new TcrError('--health-cmd: only a detached container (-d) has a monitor to run its health check', 125);
  if (restart.name !== 'no' && !o.detach && !o.createOnly)
    throw new TcrError(`--restart ${o.restart}: only a detached container (-d) has a monitor to restart it`, 125);
  const { makeProgress } = await import('../image/progress.js');
  const platform = o.platform ? parsePlatform(o.platform) : undefined;
  const pull = isRootless() ? pullAsUser(ctx.store, o) : (o.pull ?? 'missing');
  const img = await getImage(ctx.store, o.image, { pull, progress: makeProgress(), platform });
  const config = ctx.store.config(img);
  const health = resolveHealth(
    o.health ?? {},
    (config.config as { Healthcheck?: Parameters<typeof resolveHealth>[1] } | undefined)?.Healthcheck,
  );
  const lower = ctx.store.layerDirs(img).reverse();
  const root = ctx.runtime.store.root;
  if (o.name !== undefined && nameTaken(root, o.name))
    throw new TcrError(`the container name ${JSON.stringify(o.name)} is already in use (tcr rm ${o.name})`);
  // a name whose directories a container renamed while running still holds (src/container/names.ts): an id of its own
  const reused = o.name !== undefined && fs.existsSync(ctx.runtime.store.dir(o.name));
  const id = o.name !== undefined && !reused ? o.name : randomHex(6); // 12 hex digits, as docker shows ids
  if (ctx.runtime.store.exists(id) || fs.existsSync(ctx.runtime.store.dir(id)))
    throw new TcrError(`the container name ${JSON.stringify(id)} is already in use (tcr rm ${id})`);
  const dir = containerDir(ctx.store, id);
  const rootfs = path.join(dir, 'rootfs');
  // the spec first: a bad flag it finds (a -v path, a capability) must leave nothing behind
  // the user is looked up in the image's own /etc/passwd: read through a temporary view of the layers
  const checked = withSwapIfAccounted(o);
  const volumes = new VolumeStore(ctx.store.root);
  // anonymous volumes are named once, here
  const host = o.host ?? noHostFlags();
  const own = parseMountFlags(o, process.cwd());
  const shared = volumesFromRequests(host.volumesFrom, own, {
    state: ctx.runtime.store,
    volumes,
    dirOf: (other) => containerDir(ctx.store, other),
  });
  const requests = nameVolumes([...own, ...shared]);
  const userMounts = specMounts(requests, volumes);
  const joins = namespaceJoins(host, ctx.runtime.store);
  const { networkJoined, prepareNetwork } = await import('../network/prepare.js');
  const joined = networkJoined(o, ctx.runtime.store);
  const draft = draftImageSpec(checked, {
    id,
    rootfs,
    config,
    lookupRoot: lower,
    userMounts,
    joins,
    network: { hostname: joined?.config.hostname },
  });
  if (host.cidfile !== undefined && fs.existsSync(host.cidfile))
    throw new TcrError(`--cidfile: ${host.cidfile} exists: make sure its container is not running, or remove the file`);
  fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o711 });
  try {
    fs.mkdirSync(dir, { mode: 0o711 });
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') throw new TcrError(`${dir} exists: a container of that name was not removed (tcr rm ${id})`);
    throw e;
  }
  let stdio: number[] | undefined;
  let attached: Attached | undefined;
  let launched = false;
  let cidWritten = false;
  let fgLog: ForegroundLog | undefined;
  try {
    if (reused) {
      // its state directory now, so that the name's entry is not taken for a stale one
      fs.mkdirSync(ctx.runtime.store.dir(id), { recursive: true, mode: 0o711 });
      setName(root, id, o.name!);
    }
    // from here until tcr rm, the store keeps the layers, and rmi refuses the image
    ctx.store.claim(img, dir, ctx.runtime.store.dir(id));
    // and volume rm refuses its volumes
    attached = await attachVolumes(volumes, dir, requests, lower);
    fs.mkdirSync(rootfs);
    const network = await prepareNetwork(o, {
      id,
      hostname: defaultHostname(o, id),
      dir,
      storeRoot: ctx.store.root,
      state: ctx.runtime.store,
      exposed: config.config?.ExposedPorts,
      dirOf: (other) => containerDir(ctx.store, other),
      joined,
    });
    // the others find it by its name, not only by its id
    if (reused) for (const a of attachmentsOf(network.record)) a.hosts.names = [...new Set([...a.hosts.names, o.name!])];
    const spec = finishImageSpec(draft, network);
    const shm = host.ipc === 'shareable' ? shareShm(spec, dir) : undefined;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    // how to launch it stays beside it: its monitor reads it, and tcr start of it once stopped
    // -i and -t: its monitor keeps the stdin pipe or the pty master for tcr attach (src/run/attach-socket.ts)
    writeLaunchFile(dir, {
      lower,
      rm: !!o.rm,
      restart,
      network: network.record,
      slirp: network.slirp,
      health,
      interactive: !!o.interactive,
      tty: !!o.tty,
      shm,
    });
    if (host.cidfile !== undefined) {
      writeCidfile(host.cidfile, id);
      cidWritten = true;
    }
    if (o.createOnly) {
      recordCreated(ctx.runtime, id, dir, spec);
      return { id, status: 0 };
    }
    if (o.detach) {
      // the monitor launches it, and stays: src/run/monitor.ts
      launched = true;
      await startMonitor(ctx.runtime, ctx.store.root, id);
      return { id, status: 0 };
    }
    if (!o.interactive && !o.tty) {
      stdio = [fs.openSync('/dev/null', 'r'), -1, -1];
    }
    // kept, it has a log as docker's containers do (a --rm one is gone before anyone could read it)
    if (!o.rm) fgLog = foregroundLog(dir, logFile(ctx.store, id), { tty: o.tty, stdin: stdio?.[0] ?? -1 });
    launched = true;
    const status = await ctx.runtime.run(id, {
      bundle: dir,
      keep: !o.rm,
      stdio,
      ...fgLog?.launch,
      overlay: { lower, upper: path.join(dir, 'upper'), work: path.join(dir, 'work'), target: rootfs, volatile: o.rm, copyLayers },
      ownedDirs: [dir],
      network: network.record,
      slirp: network.slirp,
      hostTmpfs: shm,
    });
    // --rm removed the container: its anonymous volumes go with it, never its named ones (as docker's --rm)
    if (o.rm) volumes.removeAnonymous(attached.uses);
    return { id, status };
  } catch (e) {
    // a create that failed has undone itself; what was made before it is ours to remove
    if (!ctx.runtime.store.exists(id)) {
      // before the launch nothing but tcr touched the volumes: all it did is undone; after it (a failed create:
      // no container is left) the anonymous ones it made are orphans, while a named one may hold what the user wants
      if (attached && !launched) detachVolumes(volumes, attached);
      else if (attached) volumes.withLock(() => fs.rmSync(path.join(dir, 'volumes.json'), { force: true }));
      if (attached && launched) volumes.removeAnonymous(attached.uses);
      fs.rmSync(dir, { recursive: true, force: true });
      if (cidWritten) fs.rmSync(host.cidfile!, { force: true });
      if (reused) ctx.runtime.store.remove(id); // its claimed directory, and its name
    }
    throw e;
  } finally {
    await fgLog?.close();
    for (const fd of new Set(stdio ?? [])) if (fd > 2) fs.closeSync(fd);
  }
}
