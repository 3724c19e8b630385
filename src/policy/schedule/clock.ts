/**
 * Time, injected: the scheduler reads the time and waits only through a {@link Clock}, so tests drive
 * days of schedule in milliseconds with a fake one.
 */

export interface Clock {
  now(): Date;
  /** Waits `ms` (or less when `signal` aborts; never rejects). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The longest single timer: waits are cut into pieces so a suspended machine or a clock jump is noticed. */
const MAX_CHUNK_MS = 15 * 60_000;

/** The real clock. */
export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted || ms <= 0) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/**
 * Waits until the clock reads `when` (wall time), in pieces of at most 15 minutes.
 *
 * @example
 * await sleepUntil(systemClock, new Date('2026-01-01T03:00:00Z'), abort.signal);
 */
export async function sleepUntil(clock: Clock, when: Date, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const left = when.getTime() - clock.now().getTime();
    if (left <= 0 || signal?.aborted) return;
    await clock.sleep(Math.min(left, MAX_CHUNK_MS), signal);
  }
}
