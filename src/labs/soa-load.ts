// The load the soa lab puts on a pencil factory: a bounded number of HTTP
// requests, one at a time (latency) or a few at once (throughput), each
// answer read for the replicas that made its parts.
import http from 'node:http';
import net from 'node:net';

/** What one answer says made the pencil: "a pencil: ... lead from X in a ... case from Y, assembled by Z". */
export interface Pencil {
  lead: string;
  case: string;
  assembly: string;
}

export function parsePencil(body: string): Pencil | undefined {
  const m = /^a pencil: HB graphite lead from (\S+) in a hexagonal cedar case from (\S+), assembled by (\S+)/.exec(body);
  return m ? { lead: m[1], case: m[2], assembly: m[3] } : undefined;
}

export interface LoadResult {
  requests: number;
  concurrency: number;
  /** wall time from the first request sent to the last answer read */
  seconds: number;
  /** every answer's latency, in milliseconds, in the order they finished */
  latenciesMs: number[];
  pencils: Pencil[];
  /** answers that were not a pencil, or requests that failed, with what they said */
  failures: string[];
}

function get(url: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}: ${body.trim()}`))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

/** `requests` GETs of `url`, `concurrency` in flight at a time; a failed one is recorded, not retried. */
export async function load(url: string, requests: number, concurrency: number, timeoutMs = 30_000): Promise<LoadResult> {
  const result: LoadResult = { requests, concurrency, seconds: 0, latenciesMs: [], pencils: [], failures: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests) {
      next++;
      const t0 = process.hrtime.bigint();
      try {
        const body = await get(url, timeoutMs);
        result.latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        const pencil = parsePencil(body);
        if (pencil) result.pencils.push(pencil);
        else result.failures.push(body.trim().slice(0, 200));
      } catch (e) {
        result.failures.push((e as Error).message);
      }
    }
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  result.seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return result;
}

/** Answers per second over the run's wall time. */
export const throughput = (r: LoadResult): number => (r.seconds > 0 ? r.pencils.length / r.seconds : 0);

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** How many pencils each replica of a part made, by the host name in the answers. */
export function countBy(pencils: Pencil[], part: keyof Pencil): Map<string, number> {
  const counts = new Map<string, number>();
  for (const p of pencils) counts.set(p[part], (counts.get(p[part]) ?? 0) + 1);
  return counts;
}

/** A TCP port nobody listens on right now, from the kernel (bind to port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Polls `url` until it answers a pencil (a service that just started may need a moment), or throws after `ms`. */
export async function untilServing(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const body = await get(url, 5000);
      if (parsePencil(body)) return;
      last = body.trim();
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} served no pencil in ${ms / 1000} s (last: ${last})`);
}
