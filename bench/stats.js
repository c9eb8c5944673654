// What every benchmark here shares: failing with a message, the load
// average it prints beside its figures, and the statistics its tables
// print (median; quantile by nearest rank), and where they keep state.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function die(msg) {
  console.error(`bench: ${msg}`);
  process.exit(1);
}

export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

/** The middle value; the mean of the two middle ones for an even count. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The 1, 5 and 15 minute load averages, as the tables print them: what else the machine was doing. */
export function loadAverage() {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
}

/**
 * Where a bench keeps its runtimes' state roots and bundles: under /run, as
 * both runc (/run/runc) and tcr (/run/tcr) do by default (BENCH_STATE_DIR
 * to choose another). Not the temp dir: on this project's VM it is ext4
 * without a journal, where making a file scans the inodes freed in the
 * directory's group over the last minutes, and /tmp's group holds every
 * test run's churn (a file made there took 250 to 650 µs on 2026-12-03,
 * in /run 10): the figures then measured what had run before them.
 */
export function benchDir(prefix) {
  const base = process.env.BENCH_STATE_DIR ?? '/run';
  return fs.mkdtempSync(path.join(base, prefix));
}
