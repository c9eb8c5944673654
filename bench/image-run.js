// `tcr run --rm busybox true` against `podman run --rm busybox true` on an
// image already present, side by side in one run (issue 4's target: tcr at
// most half podman's time). Both use private stores in a temp dir; podman
// gets the same busybox rootfs through `podman import`.
// Usage (root, after scripts/setup.sh): node bench/image-run.js   [BENCH_N=20]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAverage, median } from './stats.js';
import { PodmanSide } from './podman-side.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TCR = path.join(REPO, 'bin', 'tcr');
const N = Number(process.env.BENCH_N ?? 20);
// what else the machine was doing: printed with the figures
const loadBefore = loadAverage();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tcr-bench-img-'));
// podman's locks and cgroup parent stay inside the benchmark too (not /dev/shm, not libpod_parent)
const cgroupParent = `/tcr-bench-podman-${process.pid}`;
const side = new PodmanSide(REPO, tmp, { cgroupParent });
const { podmanArgs, tcrArgs } = side;

function time(cmd, args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return ms;
}

try {
  side.importBusybox();
  const runs = {
    tcr: [TCR, [...tcrArgs, 'run', '--rm', '--network', 'none', 'busybox', 'true']],
    podman: ['podman', [...podmanArgs, ...side.podmanRun, '--rm', '--network', 'none', 'localhost/busybox', 'true']],
    // as bin/tcr starts node: without NODE_EXTRA_CA_CERTS (bin/tcr says why)
    'node -e 0': ['env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']],
  };
  const results = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N + 2; i++) {
    const order = i % 2 ? Object.keys(runs) : Object.keys(runs).reverse();
    for (const k of order) {
      const ms = time(...runs[k]);
      if (i >= 2) results[k].push(ms);
    }
  }
  const t = median(results.tcr),
    p = median(results.podman),
    n = median(results['node -e 0']);
  console.log(`### tcr run vs podman run, image present (N=${N}, medians in ms)\n`);
  console.log(
    `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, podman --runtime ${podmanArgs[1]}, ${os.cpus().length} cores, load average before ${loadBefore} / after ${loadAverage()} (1, 5, 15 min)\n`,
  );
  console.log(
    '| tcr run --rm busybox true | podman run --rm busybox true | tcr / podman | bare node -e 0 (no NODE_EXTRA_CA_CERTS) | target: tcr ≤ podman / 2 |',
  );
  console.log('|---:|---:|---:|---:|---|');
  console.log(`| ${t.toFixed(1)} | ${p.toFixed(1)} | ${(t / p).toFixed(2)} | ${n.toFixed(1)} | ${t <= p / 2 ? 'met' : '**not met**'} |`);
} finally {
  side.cleanup();
}
