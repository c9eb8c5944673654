#!/usr/bin/env node
// Two tcr builds side by side, interleaved in one run: `run` of /bin/true
// and create + start + delete of the demo bundle, for telling whether a
// change costs time (the machine's drift between runs is larger than most
// changes). As root, after `bash scripts/setup.sh` in both checkouts:
//
//   node bench/ab.js OLD/bin/tcr NEW/bin/tcr        BENCH_N=40 node bench/ab.js ...
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, loadAverage, median } from './stats.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUNDLE = path.join(REPO, 'demo', 'busybox');
const N = Number(process.env.BENCH_N ?? 24);
const WARMUP = 4;
const [a, b] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node bench/ab.js A/bin/tcr B/bin/tcr');
  process.exit(2);
}
const loadBefore = loadAverage();
const root = benchDir('tcr-ab-');

function ms(bin, steps) {
  const t0 = process.hrtime.bigint();
  for (const args of steps) {
    const r = spawnSync(bin, ['--root', root, ...args], { stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')}: exit ${r.status}`);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const samples = { a: { run: [], cycle: [] }, b: { run: [], cycle: [] } };
try {
  for (let i = 0; i < N + WARMUP; i++) {
    for (const k of i % 2 ? ['a', 'b'] : ['b', 'a']) {
      const bin = k === 'a' ? a : b;
      const id = `ab${k}${i}`;
      const run = ms(bin, [['run', '--bundle', BUNDLE, id]]);
      const cycle = ms(bin, [
        ['create', '--bundle', BUNDLE, `${id}c`],
        ['start', `${id}c`],
        ['delete', '--force', `${id}c`],
      ]);
      if (i >= WARMUP) (samples[k].run.push(run), samples[k].cycle.push(cycle));
    }
  }
} finally {
  fs.rmSync(root, { recursive: true, force: true });
}
console.log(`### tcr A against tcr B (N=${N}, medians in ms)\n`);
console.log(
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, A ${a}, B ${b}, load average before ${loadBefore} / after ${loadAverage()}\n`,
);
console.log('| | A | B | B − A |');
console.log('|---|---:|---:|---:|');
for (const [label, key] of [
  ['`run` /bin/true', 'run'],
  ['create + start + delete', 'cycle'],
]) {
  const x = median(samples.a[key]),
    y = median(samples.b[key]);
  console.log(`| ${label} | ${x.toFixed(1)} | ${y.toFixed(1)} | ${(y - x).toFixed(1)} |`);
}
