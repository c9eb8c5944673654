// process.rlimits: names (RLIMIT_*) to the numbers prlimit(2) takes.
export const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0,
  RLIMIT_FSIZE: 1,
  RLIMIT_DATA: 2,
  RLIMIT_STACK: 3,
  RLIMIT_CORE: 4,
  RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6,
  RLIMIT_NOFILE: 7,
  RLIMIT_MEMLOCK: 8,
  RLIMIT_AS: 9,
  RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11,
  RLIMIT_MSGQUEUE: 12,
  RLIMIT_NICE: 13,
  RLIMIT_RTPRIO: 14,
  RLIMIT_RTTIME: 15,
};

/** RLIM_INFINITY, as the spec writes it in JSON (2^64-1 does not fit a double exactly). */
export function rlimitValue(v: number): bigint {
  return v >= 2 ** 64 - 1 || v < 0 ? 0xffffffffffffffffn : BigInt(Math.floor(v));
}
