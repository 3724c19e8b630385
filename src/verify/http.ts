/**
 * The configured HTTP checks of the validation table (App Health, and any other URL): expected status
 * and optional text, retried with backoff until a deadline, two consecutive successes required.
 */
import type { VerifyCheck } from '../config/schema.js';
import type { CheckResult } from '../engine/ports.js';
import { safeMessage } from '../lib/redact.js';
import { type RetryPolicy, retryUntil } from './retry.js';

export type HttpCheck = Extract<VerifyCheck, { http: string }>;

export interface CheckTiming {
  readonly deadlineMs: number;
  readonly attemptTimeoutMs: number;
  readonly successes: number;
  /** Spacing between two successes, and the backoff's base after a failure (`verifyPolicy.interval`). */
  readonly intervalMs?: number;
}

/**
 * Runs one HTTP check to its end (success streak or deadline).
 *
 * @example
 * await runHttpCheck({ name: 'App Health', http: 'http://127.0.0.1:8000/api/health', expect: 200, method: 'GET' },
 *   { deadlineMs: 120_000, attemptTimeoutMs: 5_000, successes: 2 });
 */
export async function runHttpCheck(
  check: HttpCheck,
  timing: CheckTiming,
  retry: Partial<RetryPolicy> = {},
): Promise<CheckResult> {
  const expected = Array.isArray(check.expect) ? check.expect : [check.expect];
  const outcome = await retryUntil(
    async () => {
      try {
        const res = await fetch(check.http, {
          method: check.method,
          ...(check.headers ? { headers: check.headers } : {}),
          signal: AbortSignal.timeout(timing.attemptTimeoutMs),
          redirect: 'manual',
        });
        let body = '';
        if (check.contains !== undefined) body = await res.text();
        else await res.body?.cancel();
        const statusOk = expected.includes(res.status);
        const textOk = check.contains === undefined || body.includes(check.contains);
        const detail = `${res.status}${check.contains !== undefined && !textOk ? ', text not found' : ''}`;
        return { ok: statusOk && textOk, value: detail };
      } catch (e) {
        return { ok: false, value: describeFetchError(e) };
      }
    },
    {
      deadlineMs: timing.deadlineMs,
      successes: timing.successes,
      ...(timing.intervalMs === undefined ? {} : { baseMs: timing.intervalMs }),
      ...retry,
    },
  );
  return {
    name: check.name,
    ok: outcome.ok,
    detail: `${outcome.last} (${outcome.attempts} attempt${outcome.attempts === 1 ? '' : 's'})`,
    expected: expected.join(' or '),
    ms: outcome.ms,
  };
}

export function describeFetchError(e: unknown): string {
  const err = e as { name?: string; cause?: { code?: string } };
  if (err.name === 'TimeoutError') return 'timed out';
  if (err.cause?.code) return err.cause.code;
  return safeMessage(e);
}
