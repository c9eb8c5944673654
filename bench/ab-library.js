#!/usr/bin/env node
// Two tcr builds as libraries, side by side in one process: containers of
// /bin/true per second through `Runtime.run`, one at a time and four at once,
// the builds alternating round by round, for telling whether a change to the
// launch path wins (the machine's drift between runs is larger than most
// changes; bench/ab.js does the same for the CLI). As root, after
// `bash scripts/setup.sh` in both checkouts:
//
//   node bench/ab-library.js OLD NEW        BENCH_ROUNDS=12 BENCH_M=40 node bench/ab-library.js OLD NEW
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir, die, loadAverage, median } from './stats.js';
import { deleteAll, rate } from './rate.js';
import { trueBundle } from './true-bundle.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const M = Number(process.env.BENCH_M ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12);
const WIDTHS = [1, 4];
const checkouts = process.argv.slice(2).map((d) => path.resolve(d));
if (checkouts.length !== 2) die('usage: node bench/ab-library.js A B (two checkouts of tcr, each built)');
if (process.getuid() !== 0) die('containers need root: run as root');
for (const d of checkouts)
  if (!fs.existsSync(path.join(d, 'dist', 'index.js'))) die(`${d}/dist/index.js is missing: run \`bash scripts/setup.sh\` there`);

const loadBefore = loadAverage();
const tmp = benchDir('tcr-ab-library-');
const devnull = fs.openSync('/dev/null', 'r+');
const bundle = trueBundle(path.join(REPO, 'demo', 'busybox'), path.join(tmp, 'bundle'));
const runtimes = [];
for (const [i, d] of checkouts.entries()) {
  const { Runtime } = await import(path.join(d, 'dist', 'index.js'));
  runtimes.push(new Runtime({ root: path.join(tmp, `root${i}`) }));
}

let seq = 0;
async function once(rt) {
  const id = `ablib${process.pid}-${seq++}`;
  const status = await rt.run(id, { bundle, stdio: [devnull, devnull, devnull] });
  if (status !== 0) throw new Error(`run ${id}: exit status ${status}`);
}

const rates = runtimes.map(() => Object.fromEntries(WIDTHS.map((w) => [w, []])));
try {
  for (const rt of runtimes) await rate(() => once(rt), 5, 1); // warm-up
  for (let r = 0; r < ROUNDS; r++)
    for (const w of WIDTHS) {
      const order = r % 2 ? [1, 0] : [0, 1];
      for (const i of order) rates[i][w].push(await rate(() => once(runtimes[i]), M, w));
    }
} finally {
  for (const rt of runtimes) await deleteAll(rt);
  fs.rmSync(tmp, { recursive: true, force: true });
}

console.log(`### tcr A against tcr B as libraries (M=${M} a lane, ${ROUNDS} rounds, median containers/s)\n`);
console.log(
  `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, A ${checkouts[0]}, B ${checkouts[1]}, load average before ${loadBefore} / after ${loadAverage()}\n`,
);
console.log('| | A | B | B / A |');
console.log('|---|---:|---:|---:|');
for (const w of WIDTHS) {
  const [a, b] = rates.map((x) => median(x[w]));
  console.log(`| ${w === 1 ? 'one at a time' : `${w} at once`} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(2)} |`);
}
