/** Polling with a deadline, for servers that take a moment to accept connections. */

/**
 * Resolves after `ms` milliseconds.
 *
 * @example
 * await sleep(50);
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` every `intervalMs` until it returns a value other than undefined, and returns that.
 * An exception from `probe` stops the wait at once. After `timeoutMs`, rejects with `onTimeout()`.
 *
 * @example
 * await waitUntil(async () => ((await ping()) === 'PONG' ? true : undefined), {
 *   timeoutMs: 30_000,
 *   onTimeout: async () => new Error('redis did not answer PING'),
 * });
 */
export async function waitUntil<T>(
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs?: number; onTimeout: () => Promise<Error> },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw await options.onTimeout();
    await sleep(options.intervalMs ?? 50);
  }
}
