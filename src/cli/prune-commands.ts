// docker's prune commands: `container prune` (stopped containers), `image
// prune` (dangling images; -a: every image no container uses) and `system
// prune` (those, the user networks no container is attached to, and with
// --volumes the unused anonymous volumes, as docker 23+). Without -f they ask
// on stdin, as docker does; they print docker's "Deleted ..." lists and
// "Total reclaimed space". Nothing a container uses is removed.
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { Runtime } from '../container/runtime.js';
import { errorMessage } from '../errors.js';
import { dockerExit } from './cli-errors.js';
import { log, out } from '../log.js';
import type { GlobalOptions } from './main.js';
import { storeContainerDir, treeSize } from './container-view.js';
import { decimalSize } from './human-units.js';
import { parseFilters, type PruneFilter } from './prune-filters.js';

/** docker's PromptForConfirmation: the question on stdout, one line read from stdin (a pipe too); only y/yes says yes. */
function confirmed(warning: string): boolean {
  fs.writeSync(1, `${warning}\nAre you sure you want to continue? [y/N] `);
  const buf = Buffer.alloc(1);
  let line = '';
  try {
    while (fs.readSync(0, buf, 0, 1, null) === 1 && buf[0] !== 0x0a) line += String.fromCharCode(buf[0]);
  } catch {
    // no stdin: no
  }
  return /^y(es)?$/i.test(line.trim());
}

interface Ctx {
  rt: Runtime;
  storeRoot: string;
  store: import('../image/store.js').ImageStore;
}

async function context(cmd: Command): Promise<Ctx> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  const { ImageStore } = await import('../image/store.js');
  const store = new ImageStore({ root: g.store });
  return { rt: new Runtime({ root: g.root }), storeRoot: store.root, store };
}

interface Pruned {
  deleted: string[];
  space: number;
}

async function pruneContainers(ctx: Ctx, filter: PruneFilter): Promise<Pruned> {
  const { runNote } = await import('../run/inspect.js');
  const result: Pruned = { deleted: [], space: 0 };
  for (const id of ctx.rt.store.ids()) {
    try {
      const c = ctx.rt.container(id);
      const rec = c.record();
      if (c.status() !== 'stopped' || !filter({ created: rec.created, labels: runNote(rec)?.labels ?? {} })) continue;
      const size = treeSize(path.join(storeContainerDir(ctx.storeRoot, id), 'upper'));
      await c.delete(false); // refuses one that started again meanwhile
      result.deleted.push(id);
      result.space += size;
    } catch (e) {
      if (ctx.rt.store.exists(id)) log.warn(`container ${id}: ${errorMessage(e)}`);
    }
  }
  return result;
}

async function pruneImages(ctx: Ctx, all: boolean, filter: PruneFilter): Promise<{ lines: string[]; space: number }> {
  const { readImageUses } = await import('../image/image-users.js');
  const used = new Set(readImageUses(ctx.storeRoot).flatMap((u) => (u.live ? [u.image] : [])));
  const candidates = ctx.store
    .list()
    .filter((i) => (all || !i.names.length) && !used.has(i.configDigest) && filter({ created: i.created, labels: {} }));
  const lines: string[] = [];
  let space = 0;
  for (const img of candidates) {
    // the layers no other image (nor a container) keeps are what its removal frees
    const keep = new Set([
      ...ctx.store.list().flatMap((i) => (i.configDigest === img.configDigest ? [] : i.diffIds)),
      ...readImageUses(ctx.storeRoot).flatMap((u) => (u.live ? u.layers : [])),
    ]);
    const freed = img.diffIds.filter((d) => !keep.has(d)).reduce((n, d) => n + layerBytes(ctx, d), 0);
    try {
      for (const name of img.names.slice(1)) lines.push(...ctx.store.remove(name).untagged.map((n) => `untagged: ${n}`));
      const r = ctx.store.remove(img.names[0] ?? img.configDigest);
      lines.push(...r.untagged.map((n) => `untagged: ${n}`), ...r.deleted.map((d) => `deleted: ${d}`));
      if (r.deleted.length) space += freed;
    } catch (e) {
      log.warn(`image ${img.names[0] ?? img.configDigest.slice(7, 19)}: ${errorMessage(e)}`); // a container took it meanwhile
    }
  }
  return { lines, space };
}

function layerBytes(ctx: Ctx, diffId: string): number {
  try {
    return ctx.store.layerSize(diffId);
  } catch {
    return 0;
  }
}

async function pruneNetworks(ctx: Ctx): Promise<string[]> {
  const net = await import('../network/networks.js');
  const { membersOf } = await import('../network/hosts.js');
  const { removeBridge } = await import('../network/bridge-device.js');
  const gone: string[] = [];
  for (const def of net.listNetworks(ctx.storeRoot)) {
    if (def.name === net.DEFAULT_NETWORK || net.SPECIAL.includes(def.name) || membersOf(ctx.rt.store, def.name).length) continue;
    net.removeNetwork(ctx.storeRoot, def.name);
    await removeBridge(def);
    gone.push(def.name);
  }
  return gone;
}

async function pruneVolumes(ctx: Ctx): Promise<Pruned> {
  const { VolumeStore } = await import('../volumes/store.js');
  const vs = new VolumeStore(ctx.storeRoot);
  const sizes = new Map(vs.list().map((v) => [v.name, v.anonymous ? treeSize(vs.dataDir(v.name)) : 0] as const));
  const deleted = vs.prune(false);
  return { deleted, space: deleted.reduce((n, v) => n + (sizes.get(v) ?? 0), 0) };
}

const section = (title: string, items: string[]) => (items.length ? `${title}:\n${items.map((i) => `${i}\n`).join('')}\n` : '');
const total = (bytes: number) => `Total reclaimed space: ${decimalSize(bytes)}\n`;

const collect = (v: string, prev: string[]) => [...prev, v];

interface PruneFlags {
  force?: boolean;
  all?: boolean;
  volumes?: boolean;
  filter: string[];
}

export function registerPruneCommands(program: Command): void {
  const container = program.commands.find((c) => c.name() === 'container');
  container
    ?.command('prune')
    .description('remove all stopped containers')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'until=DURATION|TIME, label=K[=V], label!=K[=V] (repeatable)', collect, [])
    .action(
      dockerExit(async (o: PruneFlags, cmd: Command) => {
        const filter = parseFilters(o.filter, ['until', 'label', 'label!']);
        if (!o.force && !confirmed('WARNING! This will remove all stopped containers.')) return;
        const r = await pruneContainers(await context(cmd), filter);
        out(section('Deleted Containers', r.deleted) + total(r.space));
      }),
    );

  program
    .command('image')
    .description("docker's image commands: prune (the others are tcr images, rmi, pull, ...)")
    .command('prune')
    .description('remove dangling images (-a: every image no container uses)')
    .option('-a, --all', 'every image without a container, not only dangling ones')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'until=DURATION|TIME (repeatable)', collect, [])
    .action(
      dockerExit(async (o: PruneFlags, cmd: Command) => {
        const filter = parseFilters(o.filter, ['until']);
        const warning = o.all
          ? 'WARNING! This will remove all images without at least one container associated to them.'
          : 'WARNING! This will remove all dangling images.';
        if (!o.force && !confirmed(warning)) return;
        const r = await pruneImages(await context(cmd), !!o.all, filter);
        out(section('Deleted Images', r.lines) + total(r.space));
      }),
    );

  program
    .command('system')
    .description("docker's system commands: prune")
    .command('prune')
    .description('remove stopped containers, unused user networks, dangling images (-a: unused ones), --volumes: unused anonymous volumes')
    .option('-a, --all', 'every image without a container, not only dangling ones')
    .option('--volumes', 'the anonymous volumes no container uses too')
    .option('-f, --force', 'do not ask for confirmation')
    .option('--filter <key=value>', 'until=DURATION|TIME, label=K[=V] (repeatable)', collect, [])
    .action(
      dockerExit(async (o: PruneFlags, cmd: Command) => {
        const filter = parseFilters(o.filter, ['until', 'label', 'label!']);
        const what = [
          'all stopped containers',
          'all networks not used by at least one container',
          ...(o.volumes ? ['all anonymous volumes not used by at least one container'] : []),
          o.all ? 'all images without at least one container associated to them' : 'all dangling images',
        ];
        if (!o.force && !confirmed(`WARNING! This will remove:\n${what.map((w) => `  - ${w}\n`).join('')}`)) return;
        const ctx = await context(cmd);
        const containers = await pruneContainers(ctx, filter);
        const networks = await pruneNetworks(ctx);
        const volumes = o.volumes ? await pruneVolumes(ctx) : { deleted: [], space: 0 };
        const images = await pruneImages(ctx, !!o.all, filter);
        out(
          section('Deleted Containers', containers.deleted) +
            section('Deleted Networks', networks) +
            section('Deleted Volumes', volumes.deleted) +
            section('Deleted Images', images.lines) +
            total(containers.space + volumes.space + images.space),
        );
      }),
    );
}
