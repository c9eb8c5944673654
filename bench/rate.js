// What bench/library.js and bench/ab-library.js share: a rate of containers
// started with a bounded number in flight, and the removal of a library
// runtime's containers afterwards.

/** Runs `once` `count` times with at most `width` in flight; returns runs per second. */
export async function rate(once, count, width) {
  let next = 0;
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < count) {
      next++;
      await once();
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return count / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** Deletes (forced) every container a `Runtime` still lists, ignoring failures: a bench's clean-up. */
export async function deleteAll(rt) {
  for (const { id } of rt.list())
    await rt
      .container(id)
      .delete(true)
      .catch(() => {});
}
