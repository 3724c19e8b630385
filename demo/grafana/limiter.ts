/**
 * Grafana's brute-force login protection (grafana/grafana `pkg/services/loginattempt/loginattemptimpl`):
 * every failed password login adds a row (lower-cased username, IP, time); a login for a username
 * with `brute_force_login_protection_max_attempts` (default 5) or more rows in the last 5 minutes is
 * refused before the password is even checked — the right password included. A successful login
 * does not clear the rows; an admin password reset does (`Reset`). Rows older than 10 minutes are
 * deleted by a cleanup job.
 */
import type { LoginAttempt } from './store.js';

export const LOGIN_ATTEMPTS_WINDOW_MS = 5 * 60_000;
export const DEFAULT_MAX_LOGIN_ATTEMPTS = 5;
const CLEANUP_AFTER_MS = 10 * 60_000;

/**
 * True when logins for `username` are blocked at `now`.
 *
 * @example
 * isBlocked(state.loginAttempts, 'admin', Date.now()); // true after 5 failures within 5 minutes
 */
export function isBlocked(
  attempts: readonly LoginAttempt[],
  username: string,
  now: number,
  maxAttempts = DEFAULT_MAX_LOGIN_ATTEMPTS,
): boolean {
  const key = username.toLowerCase();
  const since = now - LOGIN_ATTEMPTS_WINDOW_MS;
  let count = 0;
  for (const attempt of attempts) {
    if (attempt.username === key && attempt.created >= since) count += 1;
  }
  return count >= maxAttempts;
}

/**
 * Returns the attempts with one failure added for `username`, dropping rows past the cleanup age.
 *
 * @example
 * state.loginAttempts = recordFailure(state.loginAttempts, 'admin', '127.0.0.1', Date.now());
 */
export function recordFailure(
  attempts: readonly LoginAttempt[],
  username: string,
  ipAddress: string,
  now: number,
): LoginAttempt[] {
  const kept = attempts.filter((a) => a.created >= now - CLEANUP_AFTER_MS);
  kept.push({ username: username.toLowerCase(), ipAddress, created: now });
  return kept;
}

/**
 * Returns the attempts without any row for `username` (Grafana's `Reset`, run by an admin reset).
 *
 * @example
 * state.loginAttempts = resetAttempts(state.loginAttempts, 'admin');
 */
export function resetAttempts(attempts: readonly LoginAttempt[], username: string): LoginAttempt[] {
  const key = username.toLowerCase();
  return attempts.filter((a) => a.username !== key);
}
