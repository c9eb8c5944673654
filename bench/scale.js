#!/usr/bin/env node
// tcr against runc at scale, side by side in one run, on one busybox bundle
// whose process sleeps:
//  (a) N detached containers started one after the other (`run -d
//      --bundle B ID`), the total time;
//  (b) `list` (table) and `list -q` with those N running, then with L
//      containers in `created` (each a real create, its init waiting on
//      the exec fifo), median of R calls;
//  (c) `delete --force` of them all, the total time.
// runc first, then tcr, for each phase. Everything under a temp dir; every
// container is deleted at the end, even on failure.
//
//   node bench/scale.js     [BENCH_N=100] [BENCH_L=1000] [BENCH_R=10]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, die, loadAverage, median } from './stats.js';
import { trueBundle } from './true-bundle.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const DEMO = path.join(REPO, 'demo', 'busybox');
const N = Number(process.env.BENCH_N ?? 100);
const L = Number(process.env.BENCH_L ?? 1000);
const R = Number(process.env.BENCH_R ?? 10);
const loadBefore = loadAverage();
for (const [k, v] of Object.entries({ BENCH_N: N, BENCH_L: L, BENCH_R: R }))
  if (!Number.isInteger(v) || v < 1) die(`${k} must be a positive integer, got ${JSON.stringify(process.env[k])}`);
if (process.getuid() !== 0) die('containers need root: run as root');
if (!fs.existsSync(path.join(DEMO, 'config.json'))) die('demo/busybox is missing: run `bash scripts/setup.sh` first');

const tmp = benchDir('tcr-bench-scale-');
const out = fs.openSync(path.join(tmp, 'commands.log'), 'a');
const bundle = trueBundle(DEMO, path.join(tmp, 'bundle'));
const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
spec.process.args = ['sleep', '3600'];
fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
// a daemon's environment: bin/tcr drops NODE_EXTRA_CA_CERTS itself, runc never reads it
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS;
const runtimes = {
  runc: ['runc', '--root', path.join(tmp, 'root-runc')],
  tcr: [TCR, '--root', path.join(tmp, 'root-tcr')],
};

function timed(argv, stdout = out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', stdout, out], timeout: 60_000, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(`\`${argv.join(' ')}\` failed: ${r.error?.message ?? r.signal ?? `exit status ${r.status}`} (see ${tmp}/commands.log)`);
  return ms;
}

const ids = (rt) => {
  try {
    return fs.readdirSync(runtimes[rt][2]).filter((d) => !d.startsWith('.'));
  } catch {
    return [];
  }
};
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const listTimes = (rt, quiet) => Array.from({ length: R }, () => timed([...runtimes[rt], 'list', ...(quiet ? ['-q'] : [])], 'ignore'));

const result = {};
try {
  for (const rt of Object.keys(runtimes)) {
    const r = (result[rt] = {});
    r.start = sum(Array.from({ length: N }, (_, i) => timed([...runtimes[rt], 'run', '-d', '--bundle', bundle, `s${i}`])));
    r.listRunning = median(listTimes(rt, false));
    r.listRunningQ = median(listTimes(rt, true));
    r.deleteRunning = sum(ids(rt).map((id) => timed([...runtimes[rt], 'delete', '--force', id])));
    for (let i = 0; i < L; i++) timed([...runtimes[rt], 'create', '--bundle', bundle, `c${i}`]);
    r.listCreated = median(listTimes(rt, false));
    r.listCreatedQ = median(listTimes(rt, true));
    for (const id of ids(rt)) timed([...runtimes[rt], 'delete', '--force', id]);
  }
  result.node = median(Array.from({ length: R }, () => timed(['node', '-e', '0'])));
} finally {
  for (const rt of Object.keys(runtimes))
    for (const id of ids(rt)) spawnSync(runtimes[rt][0], [...runtimes[rt].slice(1), 'delete', '--force', id], { stdio: 'ignore' });
  fs.closeSync(out);
  const left = Object.keys(runtimes).flatMap(ids);
  if (left.length) console.error(`bench: left behind: ${left.join(' ')}`);
  else fs.rmSync(tmp, { recursive: true, force: true });
}

const f = (x) => x.toFixed(1);
const { tcr, runc } = result;
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(`### At scale: tcr against runc (N=${N} detached, L=${L} created, R=${R} list calls, ms)\n`);
console.log(
  `${when} UTC, node ${process.version}; ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
);
console.log('| phase | tcr | runc | tcr / runc | target |');
console.log('|---|---:|---:|---:|---|');
const row = (label, t, r, target) => console.log(`| ${label} | ${f(t)} | ${f(r)} | ${(t / r).toFixed(2)} | ${target} |`);
row(`${N} × run -d, total`, tcr.start, runc.start, `≤ 1.5 × runc: ${tcr.start <= 1.5 * runc.start ? 'met' : '**not met**'}`);
row(`list, ${N} running`, tcr.listRunning, runc.listRunning, '');
row(`list -q, ${N} running`, tcr.listRunningQ, runc.listRunningQ, '');
row(`${N} × delete --force, total`, tcr.deleteRunning, runc.deleteRunning, '');
const over = tcr.listCreated - result.node;
row(`list, ${L} created`, tcr.listCreated, runc.listCreated, `tcr − node ≤ 100: ${f(over)} ${over <= 100 ? 'met' : '**not met**'}`);
row(`list -q, ${L} created`, tcr.listCreatedQ, runc.listCreatedQ, '');
console.log(`\nbare \`node -e 0\`: ${f(result.node)} ms (median of ${R})`);
