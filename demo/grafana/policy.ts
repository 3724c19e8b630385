/**
 * Grafana's password rules, as `ValidatePassword` in grafana/grafana `pkg/services/user/password.go`
 * applies them to a NEW password (change, admin reset, user creation):
 *
 * - default: fewer than 4 bytes is "too short" (Go's `len` counts UTF-8 bytes, not characters);
 * - `[auth.basic] password_policy = true` (strong): fewer than 12 bytes, or missing any of an
 *   upper-case letter, a lower-case letter, a number and a symbol (anything neither letter nor
 *   number), "doesn't comply with the password policy". Current Grafana reports a short password
 *   under the strong policy as a policy violation, not as "too short".
 *
 * Older Grafana (the `user.Password.IsWeak` era) rejected `len <= 4`; the stand-in follows current
 * source.
 */

/** What is wrong with a new password, in Grafana's terms. */
export type PasswordProblem = 'too-short' | 'policy';

/** Minimum length, in UTF-8 bytes, without and with the strong policy. */
export const MIN_PASSWORD_BYTES = 4;
export const MIN_STRONG_PASSWORD_BYTES = 12;

/**
 * Returns what Grafana would reject in `password`, or undefined when it is accepted.
 *
 * @example
 * checkNewPassword('abc', false); // 'too-short'
 * checkNewPassword('abcdefghijkl', true); // 'policy' (no upper case, number or symbol)
 * checkNewPassword('Correct-Horse-7', true); // undefined
 */
export function checkNewPassword(password: string, strongPolicy: boolean): PasswordProblem | undefined {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (!strongPolicy) return bytes < MIN_PASSWORD_BYTES ? 'too-short' : undefined;
  if (bytes < MIN_STRONG_PASSWORD_BYTES) return 'policy';
  const upper = /\p{Lu}/u.test(password);
  const lower = /\p{Ll}/u.test(password);
  const number = /\p{N}/u.test(password);
  const symbol = /[^\p{L}\p{N}]/u.test(password);
  return upper && lower && number && symbol ? undefined : 'policy';
}
