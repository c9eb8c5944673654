/** Sleeps the thread: the lifecycle commands are synchronous by design. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A point in time as the kernel keeps it (struct timespec). */
export interface Timespec {
  sec: number;
  nsec: number;
}

const NS = 1_000_000_000n;

/** Nanoseconds since the epoch (as fs's bigint stats give them) to a Timespec; nsec is never negative. */
export function timespecFromNs(ns: bigint): Timespec {
  let sec = ns / NS;
  let nsec = ns % NS;
  if (nsec < 0n) {
    nsec += NS;
    sec -= 1n;
  }
  return { sec: Number(sec), nsec: Number(nsec) };
}

/** A decimal count of seconds ("1700000000.123456789", PAX style) to a Timespec, exactly; null if malformed. */
export function parseDecimalSeconds(value: string): Timespec | null {
  const m = /^(-?)(\d{1,15})(?:\.(\d*))?$/.exec(value);
  if (m === null) return null;
  const frac = (m[3] ?? '').padEnd(9, '0').slice(0, 9);
  const ns = BigInt(m[2]) * NS + BigInt(frac);
  return timespecFromNs(m[1] === '-' ? -ns : ns);
}
