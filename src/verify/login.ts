/**
 * The Auth row of the validation table: log in to the app and check that the token it issues
 * verifies with the NEW JWT secret (jose), proving the app signs with what the env file holds.
 */
import type { VerifyCheck } from '../config/schema.js';
import type { CheckResult } from '../engine/ports.js';
import { safeMessage } from '../lib/redact.js';
import { type CheckTiming, describeFetchError } from './http.js';
import { retryUntil } from './retry.js';

export type LoginCheck = Extract<VerifyCheck, { login: unknown }>;

/**
 * Logs in and verifies the issued token with `secret`.
 *
 * @example
 * await runLoginCheck(check, env.get('JWT_SECRET')!, timing);
 */
export async function runLoginCheck(
  check: LoginCheck,
  secret: string,
  timing: CheckTiming,
): Promise<CheckResult> {
  const { jwtVerify } = await import('jose'); // loaded only when a login check is configured
  const key = new TextEncoder().encode(secret);
  const outcome = await retryUntil(
    async () => {
      let res: Response;
      try {
        res = await fetch(check.login.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(check.login.body),
          signal: AbortSignal.timeout(timing.attemptTimeoutMs),
        });
      } catch (e) {
        return { ok: false, value: describeFetchError(e) };
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        return { ok: false, value: `login answered ${res.status}` };
      }
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      const token = body[check.login.tokenField];
      if (typeof token !== 'string')
        return { ok: false, value: `no "${check.login.tokenField}" in the answer` };
      try {
        await jwtVerify(token, key);
        return { ok: true, value: 'token issued, verifies with the new secret' };
      } catch (e) {
        return { ok: false, value: `token does not verify with the new secret (${safeMessage(e)})` };
      }
    },
    {
      deadlineMs: timing.deadlineMs,
      successes: 1,
      ...(timing.intervalMs === undefined ? {} : { baseMs: timing.intervalMs }),
    },
  );
  return { name: check.name, ok: outcome.ok, detail: outcome.last, expected: 'token issued', ms: outcome.ms };
}
