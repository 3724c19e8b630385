/**
 * Bounded concurrency: run async work over a list with at most `limit` calls in flight, results in
 * the list's order. (No dependency for it: a dozen lines, and the engine needs its own stop rule.)
 */

/**
 * Maps `items` through `fn` with at most `limit` calls in flight; resolves to the results in the
 * order of `items`. Rejects with the first rejection once every started call has settled (none is
 * left running behind the caller's back); no new call starts after a rejection.
 *
 * @example
 * const rows = await mapLimit(targets, 8, (t) => t.checkCurrent(ctx, cur));
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let error: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (e) {
        if (!failed) error = e;
        failed = true;
      }
    }
  };
  const n = Math.max(1, Math.min(Math.floor(limit) || 1, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  if (failed) throw error;
  return results;
}
