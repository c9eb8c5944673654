#!/usr/bin/env node
// Memory, tcr beside runc and podman in one run:
//  (a) the peak resident set of each lifecycle command (the kernel's
//      ru_maxrss of the command, from GNU time's %M), tcr against runc on
//      the same bundle: create, start, state, kill, delete; median of N;
//  (b) what stays beside each detached container: tcr's monitor (`tcr run
//      -d busybox sleep`, the init's parent) against podman's conmon
//      (`podman --runtime runc run -d`), K containers each; RSS, PSS (the
//      RSS with shared pages split between their sharers) and USS (the
//      private pages only: what one more container costs), from
//      /proc/PID/smaps_rollup, medians over the K.
// The containerd shim's figure is in bench/pod.js's output, where shims run.
//
//   node bench/memory.js     [BENCH_N=10] [BENCH_K=5]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, die, loadAverage, median } from './stats.js';
import { trueBundle } from './true-bundle.js';
import { PodmanSide } from './podman-side.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const N = Number(process.env.BENCH_N ?? 10);
const K = Number(process.env.BENCH_K ?? 5);
const loadBefore = loadAverage();
for (const [k, v] of Object.entries({ BENCH_N: N, BENCH_K: K }))
  if (!Number.isInteger(v) || v < 1) die(`${k} must be a positive integer, got ${JSON.stringify(process.env[k])}`);
if (process.getuid() !== 0) die('containers need root: run as root');
if (!fs.existsSync('/usr/bin/time')) die('GNU time is missing (apt-get install time)');

const tmp = benchDir('tcr-bench-mem-');
const side = new PodmanSide(REPO, tmp, { cgroupParent: `/tcr-bench-podman-${process.pid}` });
const bundle = trueBundle(path.join(REPO, 'demo', 'busybox'), path.join(tmp, 'bundle'));
const spec = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8'));
spec.process.args = ['sleep', '3600'];
fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
const env = { ...process.env };
delete env.NODE_EXTRA_CA_CERTS; // as a daemon's environment, and as bin/tcr starts node anyway
const runtimes = { tcr: [side.tcrBin, '--root', path.join(tmp, 'root-tcr')], runc: ['runc', '--root', path.join(tmp, 'root-runc')] };
const log = fs.openSync(path.join(tmp, 'commands.log'), 'a');

/** Runs argv under GNU time; its peak RSS in MiB. */
function peak(argv) {
  const out = path.join(tmp, 'time.out');
  const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', out, ...argv], { env, stdio: ['ignore', log, log], timeout: 60_000 });
  if (r.status !== 0) throw new Error(`\`${argv.join(' ')}\` failed: exit status ${r.status} (see ${tmp}/commands.log)`);
  return Number(fs.readFileSync(out, 'utf8').trim().split('\n').pop()) / 1024;
}

/** RSS, PSS and USS of a process, MiB. */
function footprint(pid) {
  const kb = Object.fromEntries(
    fs
      .readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8')
      .split('\n')
      .map((l) => l.match(/^(\w+):\s+(\d+) kB/))
      .filter(Boolean)
      .map((m) => [m[1], Number(m[2])]),
  );
  return { rss: kb.Rss / 1024, pss: kb.Pss / 1024, uss: (kb.Private_Clean + kb.Private_Dirty) / 1024 };
}

const parentOf = (pid) => Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[1]);
const commands = ['create', 'start', 'state', 'kill', 'delete'];
const peaks = Object.fromEntries(Object.keys(runtimes).map((rt) => [rt, Object.fromEntries(commands.map((c) => [c, []]))]));
const keepers = { 'tcr monitor': [], 'podman conmon': [] };

try {
  for (let i = 0; i < N; i++)
    for (const rt of i % 2 ? ['runc', 'tcr'] : ['tcr', 'runc']) {
      const id = `m${i}`;
      const argv = runtimes[rt];
      peaks[rt].create.push(peak([...argv, 'create', '--bundle', bundle, id]));
      peaks[rt].start.push(peak([...argv, 'start', id]));
      peaks[rt].state.push(peak([...argv, 'state', id]));
      peaks[rt].kill.push(peak([...argv, 'kill', id, 'KILL']));
      for (
        let t = 0;
        t < 100 && JSON.parse(spawnSync(argv[0], [...argv.slice(1), 'state', id], { encoding: 'utf8' }).stdout).status !== 'stopped';
        t++
      )
        spawnSync('sleep', ['0.05']);
      peaks[rt].delete.push(peak([...argv, 'delete', id]));
    }
  side.importBusybox();
  for (let i = 0; i < K; i++) {
    side.tcr(['run', '-d', '--network', 'none', '--name', `k${i}`, 'busybox', 'sleep', '3600']);
    const tpid = Number(side.tcr(['inspect', '-f', '{{.State.Pid}}', `k${i}`]).trim());
    side.podman([...side.podmanRun, '-d', '--network', 'none', '--name', `k${i}`, 'localhost/busybox', 'sleep', '3600']);
    const cpid = Number(side.podman(['inspect', '-f', '{{.State.ConmonPid}}', `k${i}`]).trim());
    keepers['tcr monitor'].push(footprint(parentOf(tpid)));
    keepers['podman conmon'].push(footprint(cpid));
  }
} finally {
  for (const argv of Object.values(runtimes)) {
    const root = argv[2];
    for (const id of fs.existsSync(root) ? fs.readdirSync(root).filter((d) => !d.startsWith('.')) : [])
      spawnSync(argv[0], [...argv.slice(1), 'delete', '--force', id], { stdio: 'ignore' });
  }
  fs.closeSync(log);
  side.cleanup();
}

const f = (x) => x.toFixed(1);
const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
console.log(`### Memory: tcr beside runc and podman (N=${N} lifecycles, K=${K} detached containers each, MiB)\n`);
console.log(
  `${when} UTC, node ${process.version}, podman --runtime ${side.runtime}; ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
);
console.log('| command: peak RSS (ru_maxrss), median | tcr | runc | tcr / runc |');
console.log('|---|---:|---:|---:|');
for (const c of commands) {
  const t = median(peaks.tcr[c]);
  const r = median(peaks.runc[c]);
  console.log(`| ${c} | ${f(t)} | ${f(r)} | ${(t / r).toFixed(2)} |`);
}
console.log('\n| beside each detached container, median | RSS | PSS | USS (private) |');
console.log('|---|---:|---:|---:|');
for (const [k, xs] of Object.entries(keepers))
  console.log(`| ${k} | ${f(median(xs.map((x) => x.rss)))} | ${f(median(xs.map((x) => x.pss)))} | ${f(median(xs.map((x) => x.uss)))} |`);
