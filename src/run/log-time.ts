// Times of log entries, in nanoseconds since the epoch (Date has only
// milliseconds): written as RFC3339 with nine digits, as docker's
// `logs --timestamps` prints them, and read back from --since/--until.
import { TcrError } from '../errors.js';

// the wall clock once, then the monotonic clock from it: nanoseconds that never go back within a process
const origin = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

export function nowNanos(): bigint {
  return origin + process.hrtime.bigint();
}

export function rfc3339Nano(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...T21:22:34.123Z
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

/** An RFC3339 time with any number of fraction digits and any offset; undefined when it is not one. */
export function parseRfc3339(text: string): bigint | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?$/.exec(text);
  if (!m) return undefined;
  const [, date, time = '00:00:00', frac = '', zone] = m;
  // docker reads a time without an offset as the local time
  const ms = Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}${zone ?? ''}`);
  if (Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'));
}

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** A Go duration such as 10m, 1h30m, 1.5s; undefined when it is not one. */
export function parseDuration(text: string): bigint | undefined {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, n, , unit] of text.matchAll(/(\d+(\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(n) * UNIT_NS[unit];
  return BigInt(Math.round(total));
}

/** docker's --since/--until: an RFC3339 time, a Unix time (seconds[.fraction]), or a duration back from now. */
export function parseLogTime(flag: string, text: string, now = nowNanos()): bigint {
  const d = parseDuration(text);
  if (d !== undefined) return now - d;
  const unix = /^(\d+)(?:\.(\d{1,9}))?$/.exec(text);
  if (unix) return BigInt(unix[1]) * 1_000_000_000n + BigInt((unix[2] ?? '').padEnd(9, '0'));
  const t = parseRfc3339(text);
  if (t !== undefined) return t;
  throw new TcrError(
    `${flag} ${JSON.stringify(text)}: not a time (RFC3339 such as 2024-01-02T15:04:05Z, a Unix time, or a duration such as 10m)`,
    125,
  );
}
