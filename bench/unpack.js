#!/usr/bin/env node
// Layer unpack time: tcr's unpackLayer against GNU `tar -xzf` and
// `umoci unpack`, on the same gzip layer (a Debian bookworm minbase rootfs
// made once with debootstrap and cached), interleaved so all three share the
// machine's noise. Prints a markdown table of medians and ratios to GNU tar.
//
//   node bench/unpack.js (as root)          BENCH_N=20 node bench/unpack.js
//   BENCH_DIR=/dev/shm node bench/unpack.js   (the trees on a tmpfs: the unpackers without the disk)
//
// Needs root (device nodes, owners), the compiled library (`npx tsc -p .`
// or `bash scripts/setup.sh`), and debootstrap + umoci
// (apt-get install -y debootstrap umoci). The first run downloads Debian
// packages from deb.debian.org; later runs use /var/cache/tcr-bench/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { die, loadAverage, median, quantile } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const UNPACK_JS = path.join(REPO, 'dist', 'image', 'unpack.js');
const CACHE = process.env.BENCH_CACHE ?? '/var/cache/tcr-bench';
const LAYER = path.join(CACHE, 'debian-bookworm-minbase.tar.gz');
const MIRROR = process.env.BENCH_MIRROR ?? 'http://deb.debian.org/debian';
const N = Number(process.env.BENCH_N ?? 10);
// what else the machine was doing: printed with the figures
const loadBefore = loadAverage();
const started = new Date().toISOString().slice(0, 16).replace('T', ' ');
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.error) die(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) die(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-2000)}`);
  return r.stdout;
}
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

if (!Number.isInteger(N) || N < 1) die(`BENCH_N must be a positive integer, got ${process.env.BENCH_N}`);
if (process.getuid() !== 0) die('unpacking device nodes and owners needs root: run as root (node bench/unpack.js)');
if (!fs.existsSync(UNPACK_JS)) die(`${path.relative(REPO, UNPACK_JS)} is missing: run \`npx tsc -p .\` first`);

// ---- the layer: built once ------------------------------------------------

function buildLayer() {
  if (!have('debootstrap')) die('debootstrap is not installed (apt-get install -y debootstrap)');
  fs.mkdirSync(CACHE, { recursive: true });
  const root = fs.mkdtempSync(path.join(CACHE, 'rootfs-'));
  try {
    console.error(`bench: debootstrap --variant=minbase bookworm (once; cached in ${CACHE})`);
    run('debootstrap', ['--variant=minbase', 'bookworm', root, MIRROR], { stdio: ['ignore', 'ignore', 'pipe'] });
    // what a registry image of it would hold: no downloaded .debs, no apt lists
    for (const d of ['var/cache/apt/archives', 'var/lib/apt/lists'])
      for (const f of fs.readdirSync(path.join(root, d))) {
        const p = path.join(root, d, f);
        if (fs.lstatSync(p).isFile()) fs.rmSync(p);
      }
    const tmp = `${LAYER}.tmp`;
    run('sh', ['-c', 'tar --numeric-owner --xattrs --xattrs-include="*" --sort=name -C "$1" -cf - . | gzip -6n > "$2"', 'sh', root, tmp]);
    fs.renameSync(tmp, LAYER);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}
if (!fs.existsSync(LAYER)) buildLayer();

// ---- an OCI image layout around it, for umoci -------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bench-unpack-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

const sha = (buf) => createHash('sha256').update(buf).digest('hex');
function blob(layout, buf) {
  const d = sha(buf);
  fs.writeFileSync(path.join(layout, 'blobs', 'sha256', d), buf);
  return { digest: `sha256:${d}`, size: buf.length };
}
function makeLayout() {
  const layout = path.join(tmp, 'oci');
  fs.mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  fs.writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const gz = fs.readFileSync(LAYER);
  const diffId = `sha256:${run('sh', ['-c', 'gzip -dc "$1" | sha256sum', 'sh', LAYER]).split(' ')[0]}`;
  fs.copyFileSync(LAYER, path.join(layout, 'blobs', 'sha256', sha(gz)));
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(gz)}`, size: gz.length };
  const config = { architecture: 'amd64', os: 'linux', config: { Cmd: ['bash'] }, rootfs: { type: 'layers', diff_ids: [diffId] } };
  const cfg = { mediaType: 'application/vnd.oci.image.config.v1+json', ...blob(layout, Buffer.from(JSON.stringify(config))) };
  const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: cfg, layers: [layer] };
  const man = blob(layout, Buffer.from(JSON.stringify(manifest)));
  const index = {
    schemaVersion: 2,
    manifests: [{ mediaType: manifest.mediaType, ...man, annotations: { 'org.opencontainers.image.ref.name': 'bench' } }],
  };
  fs.writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  return { layout, diffId };
}
const { layout, diffId } = makeLayout();

// ---- the contenders ---------------------------------------------------------

const { unpackLayer } = await import(pathToFileURL(UNPACK_JS).href);
let seq = 0;
// BENCH_DIR: where the trees are written, e.g. a tmpfs. The default is a
// fresh directory under /var/lib, on the disk where tcr's store unpacks its
// layers (/var/lib/tcr/layers). Not the temp dir: on this project's VM its
// ext4 has no journal, where making a file scans the inodes its directory's
// group freed in the last minutes, and /tmp's group holds every test run's
// churn (250 to 650 µs a file there on 2026-12-03, against 10 to 140
// elsewhere on the same disk): every unpacker then waits on that scan.
// to see the unpackers without the file system's cost of creating files
const outRoot = fs.mkdtempSync(path.join(process.env.BENCH_DIR ?? '/var/lib', 'tcr-bench-unpack-'));
process.on('exit', () => fs.rmSync(outRoot, { recursive: true, force: true }));
const target = () => path.join(outRoot, `out${seq++}`);
const inflater = (await import(pathToFileURL(path.join(REPO, 'dist', 'image', 'isal-inflate.js')).href)).isalAvailable()
  ? 'ISA-L'
  : 'node:zlib';
async function unpackInProcess(dir) {
  const input = fs.createReadStream(LAYER, { highWaterMark: 1 << 20 });
  const r = await unpackLayer(input, dir, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', expectedDiffId: diffId });
  if (r.diffId !== diffId) die('tcr reported a wrong diffID');
  return dir;
}

const contenders = [
  { name: `tcr unpackLayer (in process, ${inflater})`, run: unpackInProcess },
  {
    name: 'tcr (new node process)',
    async run(dir) {
      const script =
        `const {unpackLayer}=await import(${JSON.stringify(pathToFileURL(UNPACK_JS).href)});` +
        `await unpackLayer((await import('node:fs')).createReadStream(${JSON.stringify(LAYER)},{highWaterMark:1<<20}),${JSON.stringify(dir)},{compression:'gzip'});`;
      run(process.execPath, ['--input-type=module', '-e', script]);
      return dir;
    },
  },
  {
    name: 'GNU tar -xzf',
    async run(dir) {
      fs.mkdirSync(dir);
      run('tar', ['--numeric-owner', '-xzf', LAYER, '-C', dir]);
      return dir;
    },
  },
];
if (inflater === 'ISA-L')
  contenders.push({
    name: 'tcr unpackLayer (in process, node:zlib)',
    async run(dir) {
      process.env.TCR_INFLATE = 'zlib'; // src/image/isal-inflate.ts
      try {
        return await unpackInProcess(dir);
      } finally {
        delete process.env.TCR_INFLATE;
      }
    },
  });
if (have('umoci'))
  contenders.push({
    name: 'umoci unpack',
    async run(dir) {
      run('umoci', ['unpack', '--image', `${layout}:bench`, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
      return path.join(dir, 'rootfs');
    },
  });
else console.error('bench: umoci is not installed (apt-get install -y umoci): skipping it');

// ---- one correctness check: tcr's tree is GNU tar's tree --------------------

function listing(dir) {
  // type, mode, owner, size, mtime to the nanosecond, link target, device numbers
  return run('sh', ['-c', 'cd "$1" && find . -printf "%p %y %m %U %G %s %T@ %l\\n" | LC_ALL=C sort', 'sh', dir]);
}
{
  const a = await contenders[0].run(target());
  const b = await contenders.find((c) => c.name.startsWith('GNU')).run(target());
  // contents of regular files too (diff -r would also complain about device nodes)
  const contents = (dir) => run('sh', ['-c', 'cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum', 'sh', dir]);
  const same = listing(a) === listing(b) && contents(a) === contents(b);
  console.log(`tcr's tree equals GNU tar's (types, modes, owners, sizes, mtimes, links, contents): ${same ? 'yes' : 'NO'}`);
  if (!same) process.exitCode = 1;
  fs.rmSync(a, { recursive: true, force: true });
  fs.rmSync(b, { recursive: true, force: true });
}

// ---- timing -----------------------------------------------------------------

const times = new Map(contenders.map((c) => [c.name, []]));
for (let i = 0; i < WARMUP + N; i++) {
  // rotate who goes first so no contender always follows the same one
  const order = contenders.map((_, k) => contenders[(k + i) % contenders.length]);
  for (const c of order) {
    const dir = target();
    spawnSync('sync');
    const t0 = process.hrtime.bigint();
    await c.run(dir);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= WARMUP) times.get(c.name).push(ms);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const tarMedian = median(times.get('GNU tar -xzf'));
const st = fs.statSync(LAYER);
const entries = run('sh', ['-c', 'tar -tzf "$1" | wc -l', 'sh', LAYER]).trim();
const bytes = Number(run('sh', ['-c', 'gzip -dc "$1" | wc -c', 'sh', LAYER]).trim());
console.log(
  `\nlayer: Debian bookworm minbase, ${(st.size / 2 ** 20).toFixed(1)} MiB gzip, ${(bytes / 2 ** 20).toFixed(1)} MiB tar, ` +
    `${entries} entries; trees written to ${outRoot} (${run('stat', ['-f', '-c', '%T', outRoot]).trim()}); ${started} UTC, N=${N}, ${os.cpus().length} CPUs, node ${process.version}, ` +
    `load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
);
console.log('| unpacker | median ms | p90 ms | / GNU tar |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of times)
  console.log(`| ${name} | ${median(xs).toFixed(0)} | ${quantile(xs, 0.9).toFixed(0)} | ${(median(xs) / tarMedian).toFixed(2)} |`);
// issue 16's target: a layer unpacked in at most 0.8 of GNU tar's time
const ok = median(times.get(contenders[0].name)) <= 0.8 * tarMedian;
console.log(`\ntarget "unpack ≤ 0.8 × GNU tar -xzf" (in process): ${ok ? 'met' : 'NOT met'}`);
