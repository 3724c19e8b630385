/**
 * What Grafana's answers mean (SERVICE-FACTS "Grafana"; the stand-in in demo/grafana follows the same
 * source): turns an {@link Answer} into a login outcome or a {@link RekeyError} whose hint says what
 * to do. A locked-out user gets exactly the same 401 as a wrong password, so every "rejected" message
 * names both possibilities.
 */
import { RekeyError } from '../../lib/errors.js';
import type { GrafanaEndpoint } from './endpoint.js';
import type { Answer } from './http.js';

/** An alphabet Grafana's strong password policy accepts (with `everyClass: true`); shown in hints. */
export const STRONG_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!%^&*-_+';

const LOCKOUT =
  "each rejected try counts toward Grafana's lockout (5 failed logins in 5 minutes, answered like a wrong password)";

/** Which change the request was part of: the hints differ. */
export type Op = 'stage' | 'revert';

/**
 * The hint for a new password Grafana's policy refused, naming the alphabet to configure.
 *
 * @example
 * policyHint('GRAFANA_ADMIN_PASSWORD');
 */
export function policyHint(key: string): string {
  return (
    `Grafana's password policy wants 12+ characters with upper case, lower case, digit and symbol: for ${key} in rekey.yaml ` +
    `set alphabet: "${STRONG_ALPHABET}" (A-Z, a-z, 0-9 and the symbols ! % ^ & * - _ +) and everyClass: true.`
  );
}

/**
 * The outcome of `GET /api/user`: true for 200, false when the password is rejected (or the user is
 * locked out); throws for anything else.
 *
 * @example
 * if (!loginAccepted(ep, await send(ep, { method: 'GET', path: 'api/user', password }, opts))) ...
 */
export function loginAccepted(ep: GrafanaEndpoint, a: Answer): boolean {
  if (a.status === 200) return true;
  if (a.status === 401 && a.messageId === 'auth.unauthorized') {
    // Grafana did not even try the password (no failed login recorded): basic auth is off.
    throw new RekeyError('ERR_TARGET_AUTH', `${where(ep, a)}: basic auth not accepted (401 Unauthorized)`, {
      hint: 'Enable basic auth in Grafana (`[auth.basic] enabled = true`); rekey changes the password through the API with it.',
    });
  }
  if (a.status === 401) return false;
  throw unexpected(ep, a);
}

/**
 * The error for a current password Grafana rejects (checkCurrent).
 *
 * @example
 * throw currentRejected(ep);
 */
export function currentRejected(ep: GrafanaEndpoint): RekeyError {
  return new RekeyError(
    'ERR_TARGET_AUTH',
    `${ep.key}: Grafana ${ep.display} rejects the current password of ${ep.user} (401: wrong password, or the user is locked out)`,
    {
      hint: `Put ${ep.user}'s actual password in ${ep.key} (GF_SECURITY_ADMIN_PASSWORD only applies on Grafana's first start), or reset it with \`grafana cli admin reset-admin-password --password-from-stdin\`; ${LOCKOUT}: wait 5 minutes before trying again.`,
    },
  );
}

/**
 * The error when Grafana accepts neither the current nor the new value (two failed logins spent).
 *
 * @example
 * throw neitherAccepted(ep, 'stage');
 */
export function neitherAccepted(ep: GrafanaEndpoint, op: Op): RekeyError {
  return new RekeyError(
    'ERR_TARGET_AUTH',
    `${ep.key}: Grafana ${ep.display} accepts neither the current nor the new password of ${ep.user} (${op}; or the user is locked out)`,
    {
      hint: `Do not retry at once: ${LOCKOUT}. Wait 5 minutes, find which password ${ep.user} has (the journal holds both values; \`grafana cli admin reset-admin-password --password-from-stdin\` sets one), then run \`rekey recover\`.`,
    },
  );
}

/**
 * The error for a failed `PUT /api/user/password` (anything but 200).
 *
 * @example
 * if (a.status !== 200) throw changeRefused(ep, a, 'stage');
 */
export function changeRefused(ep: GrafanaEndpoint, a: Answer, op: Op): RekeyError {
  const said = a.message ? `: ${a.message}` : '';
  if ((a.status === 400 || a.status === 401) && isOldPasswordAnswer(a)) {
    return new RekeyError(
      'ERR_TARGET_AUTH',
      `${where(ep, a)}: Grafana says the old password is wrong (${a.status}${said})`,
      {
        hint: `Check ${ep.key} holds ${ep.user}'s password, then run again; ${LOCKOUT}.`,
      },
    );
  }
  if (a.status === 401) {
    return new RekeyError(
      'ERR_TARGET_AUTH',
      `${where(ep, a)}: the password just accepted was rejected (${a.status}${said}; changed meanwhile, or the user is locked out)`,
      { hint: `Do not retry at once: ${LOCKOUT}. Wait 5 minutes, then run \`rekey recover\`.` },
    );
  }
  if (a.status === 400 && isPolicyAnswer(a)) {
    const hint =
      op === 'stage'
        ? policyHint(ep.key)
        : `Grafana's password policy now refuses the old value, so ${ep.user} keeps the new one (in the journal): relax \`[auth.basic] password_policy\` or set the password by hand (\`grafana cli admin reset-admin-password --password-from-stdin\`), then run \`rekey recover\`.`;
    return new RekeyError(
      'ERR_TARGET_REJECTED',
      `${where(ep, a)}: Grafana refused the ${op === 'stage' ? 'new' : 'old'} password (${a.status}${said})`,
      { hint },
    );
  }
  if (a.status === 403) {
    return new RekeyError(
      'ERR_TARGET_PRIVILEGE',
      `${where(ep, a)}: ${ep.user} may not change its password (403${said})`,
      {
        hint: 'Users from LDAP, OAuth or an auth proxy cannot change their password in Grafana; rotate a built-in user.',
      },
    );
  }
  return unexpected(ep, a);
}

/**
 * The error for an answer rekey has no meaning for (3xx, 404, 5xx, …).
 *
 * @example
 * throw unexpected(ep, a); // GRAFANA_ADMIN_PASSWORD: Grafana http://127.0.0.1:3000 (GET /api/user): answered 500 …
 */
export function unexpected(ep: GrafanaEndpoint, a: Answer): RekeyError {
  const said = a.message ? `: ${a.message}` : '';
  if (a.status >= 300 && a.status < 400) {
    return new RekeyError(
      'ERR_TARGET_REJECTED',
      `${where(ep, a)}: answered ${a.status}, a redirect to ${a.location ?? '(none)'}`,
      {
        hint: 'Set `url` to the address Grafana answers on itself (root_url); rekey does not follow redirects with a password.',
      },
    );
  }
  if (a.status >= 500) {
    return new RekeyError('ERR_TARGET_REJECTED', `${where(ep, a)}: answered ${a.status}${said}`, {
      hint: 'Grafana failed the request: check its log, then run again (rekey first checks which password Grafana accepts, so a re-run is safe).',
    });
  }
  if (a.status === 404) {
    return new RekeyError('ERR_TARGET_REJECTED', `${where(ep, a)}: answered 404${said}`, {
      hint: 'Set `url` to the Grafana root (with its sub-path when Grafana is served from one).',
    });
  }
  return new RekeyError('ERR_TARGET_REJECTED', `${where(ep, a)}: answered ${a.status}${said}`);
}

function where(ep: GrafanaEndpoint, a: Answer): string {
  return `${ep.key}: Grafana ${ep.display} (${a.what})`;
}

/** Wrong `oldPassword`: 400 `user.password-missmatch` on current Grafana, 401 "Invalid old password" on older. */
function isOldPasswordAnswer(a: Answer): boolean {
  return a.messageId === 'user.password-missmatch' || /invalid old password/i.test(a.message ?? '');
}

function isPolicyAnswer(a: Answer): boolean {
  return (
    a.messageId === 'password.password-policy-too-short' ||
    a.messageId === 'password.password-policy-infringe' ||
    /too short|password policy/i.test(a.message ?? '')
  );
}
