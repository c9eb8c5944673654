#!/usr/bin/env node
// tcr against runc, side by side in one run: `run` of /bin/true, the
// create/start/delete sequence an orchestrator drives (with state and kill
// of the created container timed on the way), and bare `node -e 0`
// (the floor every tcr command pays). Iterations are interleaved, their
// order alternating, so both runtimes share the machine's noise.
//
//   node bench/run.js (as root)            BENCH_N=100 node bench/run.js
//
// Plain Node ESM, no build step; needs `bash scripts/setup.sh` first (the
// compiled CLI, the native addon and the busybox demo bundle).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, die, loadAverage, median, quantile } from './stats.js';
import { trueBundle } from './true-bundle.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const DEMO = path.join(REPO, 'demo', 'busybox');
const N = Number(process.env.BENCH_N ?? 30);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const TIMEOUT_MS = 30_000;
// what else the machine was doing: printed with the figures
const loadBefore = loadAverage();

if (!Number.isInteger(N) || N < 1) die(`BENCH_N must be a positive integer, got ${JSON.stringify(process.env.BENCH_N)}`);
if (process.getuid() !== 0) die('containers need root: run as root (node bench/run.js)');
for (const f of [
  TCR,
  path.join(REPO, 'dist', 'tcr.cjs'),
  path.join(REPO, 'build', 'Release', 'tcr_native.node'),
  path.join(DEMO, 'config.json'),
])
  if (!fs.existsSync(f)) die(`${path.relative(REPO, f)} is missing: run \`bash scripts/setup.sh\` first`);
const runcVersion = spawnSync('runc', ['--version'], { encoding: 'utf8' });
if (runcVersion.status !== 0) die('runc is not installed (apt-get install runc)');

// ---- scratch area: one bundle and one --root per runtime ------------------

const tmp = benchDir('tcr-bench-');
const log = path.join(tmp, 'commands.log');
const logFd = fs.openSync(log, 'a');
const prefix = `bench${process.pid}-`;

const makeBundle = (name) => trueBundle(DEMO, path.join(tmp, name));

const runtimes = {
  tcr: { argv: [TCR, '--root', path.join(tmp, 'root-tcr')], bundle: makeBundle('bundle-tcr'), ids: new Set() },
  runc: { argv: ['runc', '--root', path.join(tmp, 'root-runc')], bundle: makeBundle('bundle-runc'), ids: new Set() },
};

// ---- running and timing a command -----------------------------------------

class CommandError extends Error {}

/** Runs argv to completion; returns milliseconds. stdio goes to the log, never
 * to a pipe: a created container's init holds its stdio open until start. */
function timed(argv, { check = true, env = process.env } = {}) {
  fs.writeSync(logFd, `$ ${argv.join(' ')}\n`);
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), { env, stdio: ['ignore', logFd, logFd], timeout: TIMEOUT_MS, killSignal: 'SIGKILL' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (check && (r.status !== 0 || r.error)) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new CommandError(`\`${argv.join(' ')}\` failed: ${why}\n--- last lines of ${log} ---\n${tail(log, 15)}`);
  }
  return ms;
}

function tail(file, lines) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

let seq = 0;
function newId(rt) {
  const id = `${prefix}${rt}-${seq++}`;
  runtimes[rt].ids.add(id);
  return id;
}

/** (a) run of /bin/true; the runtime removes the container when it exits. */
function benchRun(rt) {
  const { argv, bundle, ids } = runtimes[rt];
  const id = newId(rt);
  const ms = timed([...argv, 'run', '--bundle', bundle, id]);
  // not timed: make sure nothing is left whatever the runtime did
  if (fs.existsSync(path.join(argv[2], id))) timed([...argv, 'delete', '--force', id], { check: false });
  ids.delete(id);
  return ms;
}

/**
 * (b) create, start, delete --force: what containerd's shim or podman drive; and between create
 * and start, state and a kill (SIGCONT, which the waiting init takes without effect), timed
 * apart from the total.
 */
function benchSequence(rt) {
  const { argv, bundle, ids } = runtimes[rt];
  const id = newId(rt);
  const create = timed([...argv, 'create', '--bundle', bundle, id]);
  const state = timed([...argv, 'state', id]);
  const kill = timed([...argv, 'kill', id, 'CONT']);
  const start = timed([...argv, 'start', id]);
  const del = timed([...argv, 'delete', '--force', id]);
  ids.delete(id);
  return { create, start, delete: del, state, kill, total: create + start + del };
}

// bin/tcr starts a lifecycle command's node without NODE_EXTRA_CA_CERTS (it
// makes node parse a CA file first): the floor is node's start without it
const { NODE_EXTRA_CA_CERTS: extraCa, ...envWithoutCa } = process.env;

/** (c) the floor: starting node and doing nothing, as bin/tcr starts it; and as this shell would, when it sets NODE_EXTRA_CA_CERTS. */
function benchNode() {
  return {
    floor: timed([process.execPath, '-e', '0'], { env: envWithoutCa }),
    shell: extraCa === undefined ? undefined : timed([process.execPath, '-e', '0']),
  };
}

// ---- cleanup, whatever happens ---------------------------------------------

let cleanedUp = false;
function cleanup() {
  if (cleanedUp) return;
  cleanedUp = true;
  const left = [];
  for (const [name, rt] of Object.entries(runtimes)) {
    // every id we ever used that may still exist, plus whatever the state root holds
    const known = new Set(rt.ids);
    try {
      for (const id of fs.readdirSync(rt.argv[2])) if (id.startsWith(prefix)) known.add(id);
    } catch {
      // no state root: nothing was created
    }
    for (const id of known) {
      try {
        timed([...rt.argv, 'delete', '--force', id], { check: false });
      } catch {
        // best effort; checked below
      }
      if (fs.existsSync(path.join(rt.argv[2], id))) left.push(`${name} container ${id}`);
    }
  }
  left.push(...leftoverCgroups().map((d) => `cgroup ${d}`));
  fs.closeSync(logFd);
  if (left.length) {
    console.error(`bench: left behind (see ${tmp}):\n  ${left.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** Cgroup directories named after one of our containers (a runtime that leaks them). */
function leftoverCgroups() {
  const found = [];
  const walk = (dir, depth) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const p = path.join(dir, e.name);
      if (e.name.startsWith(prefix)) found.push(p);
      else if (depth > 0) walk(p, depth - 1);
    }
  };
  walk('/sys/fs/cgroup', 3);
  return found;
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`bench: ${sig}, cleaning up`);
  });
}
process.on('exit', cleanup);

// ---- statistics and the report ---------------------------------------------

const ms = (x) => x.toFixed(1);

async function main() {
  const samples = { node: [], nodeShell: [], run: { tcr: [], runc: [] }, seq: { tcr: [], runc: [] } };
  const total = WARMUP + N;
  process.stderr.write(`bench: ${WARMUP} warm-up + ${N} iterations, tcr and runc interleaved\n`);
  for (let i = 0; i < total && !interrupted; i++) {
    await new Promise((resolve) => setImmediate(resolve)); // lets a SIGINT handler run
    if (interrupted) break;
    // alternate who goes first so neither always runs on a warmer cache
    const order = i % 2 ? ['runc', 'tcr'] : ['tcr', 'runc'];
    const node = benchNode();
    const run = {},
      sq = {};
    for (const rt of order) run[rt] = benchRun(rt);
    for (const rt of [...order].reverse()) sq[rt] = benchSequence(rt);
    if (i < WARMUP) continue;
    samples.node.push(node.floor);
    if (node.shell !== undefined) samples.nodeShell.push(node.shell);
    for (const rt of order) {
      samples.run[rt].push(run[rt]);
      samples.seq[rt].push(sq[rt]);
    }
    if (process.stderr.isTTY) process.stderr.write(`\r  ${i + 1 - WARMUP}/${N}`);
  }
  if (process.stderr.isTTY) process.stderr.write('\n');
  if (interrupted) {
    process.exitCode = 130;
    return;
  }
  report(samples);
}

function report(samples) {
  const node = median(samples.node);
  const rows = [];
  // `commands`: how many tcr processes (each paying node's start-up) the row is
  const row = (what, tcrXs, runcXs, commands) => {
    const t = median(tcrXs),
      r = median(runcXs);
    const net = t - commands * node;
    rows.push(
      `| ${what} | ${ms(t)} | ${ms(quantile(tcrXs, 0.9))} | ${ms(r)} | ${ms(quantile(runcXs, 0.9))} | ${(t / r).toFixed(2)} | ${ms(net)} | ${net <= r / 2 ? 'met' : `**not met** (${ms(r / 2)} allowed)`} |`,
    );
  };
  row('`run` /bin/true', samples.run.tcr, samples.run.runc, 1);
  const part = (rt, k) => samples.seq[rt].map((s) => s[k]);
  row('create + start + delete', part('tcr', 'total'), part('runc', 'total'), 3);
  for (const k of ['create', 'start', 'delete']) row(`&nbsp;&nbsp;${k}`, part('tcr', k), part('runc', k), 1);
  for (const k of ['state', 'kill']) row(`\`${k}\` of a created container`, part('tcr', k), part('runc', k), 1);

  const kernel = os.release();
  const cpu = os.cpus()[0]?.model?.trim() ?? 'unknown CPU';
  const runcV = runcVersion.stdout.split('\n')[0].replace(/^runc version /, '');
  console.log(`### tcr vs runc (N=${N}, medians and p90 in ms)\n`);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}, runc ${runcV}, Linux ${kernel}, ${os.cpus().length} × ${cpu}, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
  );
  console.log(
    '| | tcr median | tcr p90 | runc median | runc p90 | tcr / runc | tcr − node start-up | target (issue 16): tcr − node ≤ 0.5 × runc |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rows) console.log(r);
  console.log(`| bare \`node -e 0\` | ${ms(node)} | ${ms(quantile(samples.node, 0.9))} | | | | | |`);
  if (samples.nodeShell.length)
    console.log(
      `| bare \`node -e 0\` with this shell's NODE_EXTRA_CA_CERTS=${extraCa} | ${ms(median(samples.nodeShell))} | ${ms(quantile(samples.nodeShell, 0.9))} | | | | | |`,
    );
  console.log(
    `\n"tcr − node start-up" subtracts the median \`node -e 0\` (without NODE_EXTRA_CA_CERTS, as bin/tcr starts node for these commands) once per tcr command (three for create + start + delete).`,
  );
  if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({ n: N, ...samples }, null, 2));
}

try {
  await main();
} catch (e) {
  console.error(`bench: ${e instanceof CommandError ? e.message : e.stack}`);
  process.exitCode = 1;
} finally {
  cleanup();
}
