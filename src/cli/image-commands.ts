// pull, images, rmi, load, import, tag: the image store's commands, with
// docker's names, flags and output; and unpack, umoci's: an image as a
// bundle. The store lives at --store DIR, else $TCR_STORE, else
// /var/lib/tcr. Image code is imported lazily, so commands that never touch
// images do not pay for loading it.
import { Command, Option } from 'commander';
import { TcrError } from '../errors.js';
import { out } from '../log.js';
import type { ImageStore } from '../image/store.js';
import type { StoredImage } from '../image/types.js';
import { table } from './table.js';

async function storeOf(cmd: Command): Promise<ImageStore> {
  const { ImageStore, defaultStoreRoot } = await import('../image/store.js');
  const g = cmd.optsWithGlobals<{ store?: string }>();
  return new ImageStore({ root: g.store ?? defaultStoreRoot() });
}

/** "5 seconds ago", "3 weeks ago": docker's CREATED column. */
export function timeAgo(iso: string | undefined, now = Date.now()): string {
  const t = iso ? Date.parse(iso) : NaN;
  if (!Number.isFinite(t)) return 'N/A';
  const s = Math.max(0, Math.round((now - t) / 1000));
  const steps: [number, string][] = [
    [60, 'second'],
    [60, 'minute'],
    [24, 'hour'],
    [7, 'day'],
    [4.35, 'week'],
    [12, 'month'],
    [Infinity, 'year'],
  ];
  let v = s;
  for (const [n, unit] of steps) {
    if (v < n) {
      const k = Math.floor(v);
      return unit === 'second' && k < 2 ? 'Less than a second ago' : `${k} ${unit}${k === 1 ? '' : 's'} ago`;
    }
    v /= n;
  }
  return 'N/A';
}

export async function imagesTable(images: StoredImage[], opts: { noTrunc?: boolean } = {}): Promise<string> {
  const { humanSize } = await import('../image/progress.js');
  const { splitName } = await import('../image/reference.js');
  const rows = [['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE']];
  const sorted = [...images].sort((a, b) => (Date.parse(b.created ?? '') || 0) - (Date.parse(a.created ?? '') || 0));
  for (const img of sorted) {
    const id = opts.noTrunc ? img.configDigest : img.configDigest.slice(7, 19);
    const names = img.names.length ? img.names.map(splitName) : [{ repository: '<none>', tag: '<none>' }];
    for (const n of names) rows.push([n.repository, n.tag, id, timeAgo(img.created), humanSize(img.size)]);
  }
  return table(rows);
}

function progressFor(quiet: boolean | undefined) {
  return import('../image/progress.js').then((m) => m.makeProgress({ quiet }));
}

async function platformOpt(p: string | undefined) {
  if (!p) return undefined;
  const { parsePlatform } = await import('../image/platform.js');
  return parsePlatform(p);
}

export function registerImageCommands(program: Command): void {
  program
    .command('pull')
    .description('copy an image from a registry (or an OCI layout / archive) into the image store')
    .argument('<image>', 'NAME[:TAG|@DIGEST], docker://…, oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME]')
    .option('-q, --quiet', 'no progress; print only the image id')
    .option('--platform <os/arch[/variant]>', 'the image to take from a multi-platform index (default: this machine)')
    .action(async (ref: string, o: { quiet?: boolean; platform?: string }, cmd: Command) => {
      const { pullImage } = await import('../image/pull.js');
      const imgs = await pullImage(await storeOf(cmd), ref, {
        progress: await progressFor(o.quiet),
        platform: await platformOpt(o.platform),
      });
      for (const img of imgs) out(img.configDigest.slice(7) + '\n');
    });

  program
    .command('images')
    .description('list the images in the image store')
    .argument('[repository]', 'only images with this name (NAME or NAME:TAG)')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
    .option('-q, --quiet', 'print only image ids')
    .option('--no-trunc', 'print full image ids')
    .action(async (repo: string | undefined, o: { format: string; quiet?: boolean; trunc?: boolean }, cmd: Command) => {
      const store = await storeOf(cmd);
      let images = store.list();
      if (repo) {
        const { normalizeName, splitName } = await import('../image/reference.js');
        const full = normalizeName(repo);
        const wantTag = /:[\w][\w.-]*$/.test(repo.slice(repo.lastIndexOf('/') + 1));
        images = images.filter((i) => i.names.some((n) => (wantTag ? n === full : splitName(n).repository === splitName(full).repository)));
      }
      if (o.quiet)
        return out(
          [...new Set(images.map((i) => (o.trunc === false ? i.configDigest : i.configDigest.slice(7, 19))))].map((l) => l + '\n').join(''),
        );
      if (o.format === 'json') {
        const docs = images.map((i) => ({
          id: i.configDigest.slice(7),
          names: i.names,
          digest: i.manifestDigest,
          repoDigests: i.repoDigests ?? [],
          created: i.created ?? null,
          size: i.size,
          layers: i.diffIds,
        }));
        return out(JSON.stringify(docs, null, 2) + '\n');
      }
      out(await imagesTable(images, { noTrunc: o.trunc === false }));
    });

  program
    .command('rmi')
    .description('remove images (a name of an image with several names is only untagged)')
    .argument('<image...>')
    .option('-f, --force', 'remove an image by id even when it has several names')
    .action(async (refs: string[], o: { force?: boolean }, cmd: Command) => {
      const store = await storeOf(cmd);
      const failures: string[] = [];
      for (const ref of refs) {
        try {
          const r = store.remove(ref, { force: o.force });
          for (const n of r.untagged) out(`Untagged: ${n}\n`);
          for (const d of r.deleted) out(`Deleted: ${d}\n`);
        } catch (e) {
          failures.push((e as Error).message);
        }
      }
      if (failures.length) throw new TcrError(failures.join('\n'));
    });

  program
    .command('load')
    .description('load images from a docker-archive (docker save) or oci-archive tarball')
    .requiredOption('-i, --input <file>', 'the tarball (read twice, so a file and not a pipe)')
    .option('-q, --quiet', 'no progress')
    .action(async (o: { input: string; quiet?: boolean }, cmd: Command) => {
      const { openArchive } = await import('../image/archive.js');
      const { importOpened } = await import('../image/pull.js');
      const opened = await openArchive(o.input, { all: true });
      const imgs = await importOpened(await storeOf(cmd), opened, { progress: await progressFor(o.quiet) });
      for (const img of imgs) {
        if (img.names.length) for (const n of img.names) out(`Loaded image: ${n}\n`);
        else out(`Loaded image ID: ${img.configDigest}\n`);
      }
    });

  program
    .command('import')
    .description('import the images of an OCI image layout directory')
    .argument('<dir>', 'DIR, or oci:DIR:TAG for one image of it')
    .argument('[name]', 'name to give the image (default: its ref.name annotation, else localhost/DIR:TAG)')
    .option('-q, --quiet', 'no progress')
    .action(async (dir: string, name: string | undefined, o: { quiet?: boolean }, cmd: Command) => {
      const { openLocalSource, importOpened } = await import('../image/pull.js');
      const opened = await openLocalSource(dir.startsWith('oci:') ? dir : `oci:${dir}`, { all: !name });
      if (name && opened.images.length > 1)
        throw new TcrError(`${dir} holds ${opened.images.length} images: name one with oci:${dir}:TAG to give it a name`);
      const imgs = await importOpened(await storeOf(cmd), opened, {
        progress: await progressFor(o.quiet),
        names: name ? [name] : undefined,
      });
      for (const img of imgs) out(img.configDigest.slice(7) + '\n');
    });

  program
    .command('unpack')
    .description(
      'write an image as an OCI bundle: DIR/rootfs (its layers flattened), DIR/config.json (what tcr run --network none IMAGE runs, without the /etc files a run writes)',
    )
    .argument(
      '<image>',
      'a store name or id, NAME[:TAG|@DIGEST] (pulled when missing), oci:DIR[:TAG], oci-archive:FILE[:TAG] or docker-archive:FILE[:NAME]',
    )
    .argument('<dir>', 'the bundle directory to create (new, or empty)')
    .option('-q, --quiet', 'no progress')
    .addOption(
      new Option('--pull <policy>', 'when to pull a registry image into the store')
        .choices(['missing', 'always', 'never'])
        .default('missing'),
    )
    .action(async (ref: string, dir: string, o: { quiet?: boolean; pull: 'missing' | 'always' | 'never' }, cmd: Command) => {
      const { unpackImage } = await import('../run/unpack-image.js');
      await unpackImage(await storeOf(cmd), ref, dir, { pull: o.pull, progress: await progressFor(o.quiet), cleanupOnSignal: true });
    });

  program
    .command('tag')
    .description('give an image another name')
    .argument('<source>', 'image name or id')
    .argument('<target>', 'new NAME[:TAG]')
    .action(async (src: string, dst: string, _o: unknown, cmd: Command) => {
      (await storeOf(cmd)).tag(src, dst);
    });
}
