#!/usr/bin/env node
// tcr as a library against runc's CLI, side by side in one run: containers
// of /bin/true started and waited for, per second.
//  - runc: `runc run --bundle B ID`, one process per container, in turn;
//    and the same with CONCURRENCY runc processes at once (what a caller
//    that forks runc in parallel gets);
//  - tcr: `new Runtime().run(ID, { bundle })` in this one Node process, in
//    turn, then CONCURRENCY runs in flight at once from the same process.
// Each lane runs M containers, after a warm-up; the lanes alternate over
// ROUNDS rounds, so they share the machine's noise, and the table prints the
// median rate of the rounds. Everything is under a temp dir, removed at the end.
//
//   node bench/library.js     [BENCH_M=40] [BENCH_ROUNDS=3] [BENCH_CONCURRENCY=4]
//
// Needs root and `bash scripts/setup.sh` first (dist/, the native addon and
// the busybox demo bundle).
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, die, loadAverage, median } from './stats.js';
import { deleteAll, rate } from './rate.js';
import { trueBundle } from './true-bundle.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DEMO = path.join(REPO, 'demo', 'busybox');
const M = Number(process.env.BENCH_M ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const loadBefore = loadAverage();

for (const [k, v] of Object.entries({ BENCH_M: M, BENCH_ROUNDS: ROUNDS, BENCH_CONCURRENCY: CONCURRENCY }))
  if (!Number.isInteger(v) || v < 1) die(`${k} must be a positive integer, got ${JSON.stringify(process.env[k])}`);
if (process.getuid() !== 0) die('containers need root: run as root');
for (const f of [
  path.join(REPO, 'dist', 'index.js'),
  path.join(REPO, 'build', 'Release', 'tcr_native.node'),
  path.join(DEMO, 'config.json'),
])
  if (!fs.existsSync(f)) die(`${path.relative(REPO, f)} is missing: run \`bash scripts/setup.sh\` first`);
if (spawnSync('runc', ['--version']).status !== 0) die('runc is not installed (apt-get install runc)');

const { Runtime } = await import(path.join(REPO, 'dist', 'index.js'));

const tmp = benchDir('tcr-bench-lib-');
const devnull = fs.openSync('/dev/null', 'r+');

const makeBundle = (name) => trueBundle(DEMO, path.join(tmp, name));
const tcrBundle = makeBundle('bundle-tcr');
const runcBundle = makeBundle('bundle-runc');
const runcRoot = path.join(tmp, 'root-runc');
const rt = new Runtime({ root: path.join(tmp, 'root-tcr') });

let seq = 0;
const newId = (lane) => `benchlib${process.pid}-${lane}-${seq++}`;

function runcOnce() {
  return new Promise((resolve, reject) => {
    const id = newId('runc');
    const p = spawn('runc', ['--root', runcRoot, 'run', '--bundle', runcBundle, id], { stdio: ['ignore', devnull, devnull] });
    p.on('error', reject);
    p.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`runc run ${id}: ${signal ?? `exit status ${code}`}`))));
  });
}

async function tcrOnce() {
  const id = newId('tcr');
  const status = await rt.run(id, { bundle: tcrBundle, stdio: [devnull, devnull, devnull] });
  if (status !== 0) throw new Error(`tcr run ${id}: exit status ${status}`);
}

const lanes = {
  'runc run, one at a time': () => rate(runcOnce, M, 1),
  [`runc run, ${CONCURRENCY} processes at once`]: () => rate(runcOnce, M, CONCURRENCY),
  'tcr Runtime.run in one process, one at a time': () => rate(tcrOnce, M, 1),
  [`tcr Runtime.run in one process, ${CONCURRENCY} at once`]: () => rate(tcrOnce, M, CONCURRENCY),
};
const rates = Object.fromEntries(Object.keys(lanes).map((k) => [k, []]));

try {
  await rate(runcOnce, 3, 1); // warm-up: page cache, the addon, the seccomp profile's compile
  await rate(tcrOnce, 3, 1);
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.keys(lanes);
    if (r % 2) order.reverse();
    for (const k of order) rates[k].push(await lanes[k]());
  }
} finally {
  for (const id of fs.existsSync(runcRoot) ? fs.readdirSync(runcRoot) : [])
    spawnSync('runc', ['--root', runcRoot, 'delete', '--force', id], { stdio: 'ignore' });
  await deleteAll(rt);
  fs.rmSync(tmp, { recursive: true, force: true });
}

const base = median(rates['runc run, one at a time']);
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(`### Containers of /bin/true per second: tcr as a library against runc's CLI (M=${M} a lane, ${ROUNDS} rounds, median)\n`);
console.log(
  `${when} UTC, runc ${spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0].replace('runc version ', '')}, node ${process.version}; ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
);
console.log('| lane | containers/s | / runc one at a time | target |');
console.log('|---|---:|---:|---|');
const targets = { 2: 3, 3: 5 };
Object.entries(rates).forEach(([k, v], i) => {
  const x = median(v) / base;
  const t = targets[i] ? `≥ ${targets[i]} × runc: ${x >= targets[i] ? 'met' : '**not met**'}` : '';
  console.log(`| ${k} | ${median(v).toFixed(1)} | ${x.toFixed(2)} | ${t} |`);
});
