/** Sleeps the thread: the lifecycle commands are synchronous by design. */
export function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
