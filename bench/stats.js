// What every benchmark here shares: failing with a message, the load
// average it prints beside its figures, and the statistics its tables
// print (median; quantile by nearest rank).
import os from 'node:os';

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
