// What bridge networking costs a container start: `tcr run --rm busybox true`
// with --network none (a private loopback), the default bridge (CNI ADD at
// the start, DEL at the removal) and the bridge with a published port (the
// portmap plugin too), interleaved, on a private store and state root.
// Usage (root, after scripts/setup.sh): node bench/network.js   [BENCH_N=20]
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, median } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const N = Number(process.env.BENCH_N ?? 20);
const loadBefore = loadAverage();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bench-net-'));
const g = ['--root', path.join(tmp, 'state'), '--store', path.join(tmp, 'store')];

function time(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(TCR, [...g, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`tcr ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

try {
  execFileSync(TCR, [...g, 'import', '-q', path.join(REPO, 'demo', 'busybox-oci'), 'busybox'], { stdio: 'ignore' });
  const runs = {
    none: ['run', '--rm', '--network', 'none', 'busybox', 'true'],
    bridge: ['run', '--rm', 'busybox', 'true'],
    'bridge -p': ['run', '--rm', '-p', '127.0.0.1::80', 'busybox', 'true'],
  };
  const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N + 2; i++) {
    const order = i % 2 ? Object.keys(runs) : Object.keys(runs).reverse();
    for (const k of order) {
      const ms = time(runs[k]);
      if (i >= 2) results[k].push(ms);
    }
  }
  const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
  console.log(`### tcr run --rm busybox true by network mode (N=${N}, medians in ms)\n`);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()}\n`,
  );
  console.log('| --network none | bridge (default) | bridge -p 127.0.0.1::80 | bridge − none |');
  console.log('|---:|---:|---:|---:|');
  console.log(`| ${m.none.toFixed(1)} | ${m.bridge.toFixed(1)} | ${m['bridge -p'].toFixed(1)} | ${(m.bridge - m.none).toFixed(1)} |`);
} finally {
  for (const id of fs.existsSync(path.join(tmp, 'state')) ? fs.readdirSync(path.join(tmp, 'state')).filter((i) => !i.startsWith('.')) : [])
    spawnSync(TCR, [...g, 'rm', '-f', id]);
  fs.rmSync(tmp, { recursive: true, force: true });
}
