/**
 * Retrying a check until a deadline with capped exponential backoff and full jitter (AWS
 * architecture blog, "Exponential Backoff And Jitter"), requiring N consecutive successes.
 */

export interface RetryPolicy {
  /** Give up after this long (ms). */
  readonly deadlineMs: number;
  /** Consecutive successes required. */
  readonly successes: number;
  readonly baseMs?: number;
  readonly capMs?: number;
  /** Injected for tests. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  readonly random?: () => number;
}

export interface Attempt<T> {
  readonly ok: boolean;
  readonly value: T;
}

export interface RetryOutcome<T> {
  readonly ok: boolean;
  readonly attempts: number;
  readonly last: T;
  readonly ms: number;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs `attempt` until it succeeds `successes` times in a row or the deadline passes.
 *
 * @example
 * const r = await retryUntil(async () => ({ ok: (await fetch(url)).status === 200, value: 'x' }),
 *   { deadlineMs: 120_000, successes: 2 });
 */
export async function retryUntil<T>(
  attempt: () => Promise<Attempt<T>>,
  policy: RetryPolicy,
): Promise<RetryOutcome<T>> {
  const now = policy.now ?? Date.now;
  const sleep = policy.sleep ?? defaultSleep;
  const random = policy.random ?? Math.random;
  const base = policy.baseMs ?? 200;
  const cap = policy.capMs ?? 5000;
  const start = now();
  let streak = 0;
  let failures = 0;
  let attempts = 0;
  for (;;) {
    attempts++;
    const a = await attempt();
    if (a.ok) {
      streak++;
      if (streak >= policy.successes) return { ok: true, attempts, last: a.value, ms: now() - start };
    } else {
      streak = 0;
      failures++;
    }
    const delay = a.ok ? Math.min(base, cap) : Math.floor(random() * Math.min(cap, base * 2 ** failures));
    if (now() + delay - start > policy.deadlineMs)
      return { ok: false, attempts, last: a.value, ms: now() - start };
    await sleep(delay);
  }
}
