// `tcr logs`: the entries the monitor wrote (log-pipes.ts), stdout's to
// stdout and stderr's to stderr, with docker's --tail, --timestamps, --since,
// --until and --follow. A line that is not JSON (a log from before the
// monitor kept them so) is printed as stdout.
import fs from 'node:fs';
import { TcrError } from '../errors.js';
import { parseLogTime, parseRfc3339, rfc3339Nano } from './log-time.js';

export interface LogQuery {
  follow?: boolean;
  /** the last N entries; undefined: all */
  tail?: number;
  timestamps?: boolean;
  since?: bigint;
  until?: bigint;
  /** start at this byte of the log, not its beginning (attach: what comes from now on) */
  from?: number;
}

export function logQuery(o: { follow?: boolean; tail?: string; timestamps?: boolean; since?: string; until?: string }): LogQuery {
  let tail: number | undefined;
  if (o.tail !== undefined && o.tail !== 'all') {
    if (!/^\d+$/.test(o.tail)) throw new TcrError(`--tail ${JSON.stringify(o.tail)}: not a number of lines (or all)`, 125);
    tail = Number(o.tail);
  }
  return {
    follow: o.follow,
    tail,
    timestamps: o.timestamps,
    since: o.since === undefined ? undefined : parseLogTime('--since', o.since),
    until: o.until === undefined ? undefined : parseLogTime('--until', o.until),
  };
}

interface Entry {
  log: string;
  stream: string;
  time?: string;
}

function parseEntry(line: string): Entry {
  try {
    const e = JSON.parse(line) as Entry;
    if (typeof e.log === 'string') return e;
  } catch {
    // not one of the monitor's
  }
  return { log: line + '\n', stream: 'stdout' };
}

/** Prints the log's entries as `q` asks; with follow, until `finished()` says no more will come. */
export async function printLogs(file: string, q: LogQuery, finished: () => boolean): Promise<void> {
  const print = (e: Entry) => {
    const t = e.time === undefined ? undefined : parseRfc3339(e.time);
    if (q.since !== undefined && (t === undefined || t < q.since)) return;
    if (q.until !== undefined && (t === undefined || t > q.until)) return;
    const text = q.timestamps && t !== undefined ? `${rfc3339Nano(t)} ${e.log}` : e.log;
    fs.writeSync(e.stream === 'stderr' ? 2 : 1, text);
  };
  let pos = q.from ?? 0;
  /** the complete lines written since the last read */
  const read = (): string[] => {
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch {
      return []; // removed with its container (--rm)
    }
    if (size <= pos) return [];
    const buf = Buffer.alloc(size - pos);
    const fd = fs.openSync(file, 'r');
    let n: number;
    try {
      n = fs.readSync(fd, buf, 0, buf.length, pos);
    } finally {
      fs.closeSync(fd);
    }
    const end = buf.lastIndexOf(0x0a, n - 1) + 1; // a line still being written waits for the next read
    pos += end;
    return buf.subarray(0, end).toString('utf8').split('\n').slice(0, -1);
  };
  const first = read();
  for (const line of q.tail === undefined ? first : q.tail === 0 ? [] : first.slice(-q.tail)) print(parseEntry(line));
  if (!q.follow) return;
  for (;;) {
    const done = finished(); // asked before the read: what was written until then is printed
    for (const line of read()) print(parseEntry(line));
    if (done) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The log's length now: attach and start -a print what comes after it. */
export function logLength(file: string): number {
  try {
    return fs.statSync(file).size;
  } catch {
    return 0;
  }
}
