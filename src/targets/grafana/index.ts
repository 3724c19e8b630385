/**
 * `type: grafana`: the password of a Grafana user (the admin by default), changed through Grafana's
 * HTTP API (SERVICE-FACTS "Grafana"): `PUT /api/user/password` with basic auth as the user.
 *
 * Grafana keeps ONE password per user, so there is no overlap: the engine stages this target last,
 * right before the env file is committed, and `finish` has nothing to retire.
 *
 * Grafana locks a user out after 5 failed logins in 5 minutes, every rejected basic-auth request
 * counts, and a locked-out user gets the same 401 as a wrong password. So a rejected password is
 * never retried, and each operation probes in the order that costs no failure on the normal path:
 * - stage: `cur` (accepted → change to `next`), only then `next` (accepted → already staged);
 * - revert: `next` (accepted → change back to `cur`), only then `cur` (accepted → already reverted);
 * - both rejected: ERR_TARGET_AUTH after exactly two failed logins;
 * - a revert after this process saw Grafana refuse the change (4xx, e.g. the password policy) probes
 *   only `cur`: the new value was never set.
 *
 * `finish` has no password to retire; on `--trigger compromise` it revokes the user's sessions and
 * reports (or, with `deleteTokensOnCompromise`, deletes) the service-account tokens created since the
 * previous rotation (evict.ts). `verify` never probes the old password (see there).
 */

import type { SecretConfigOf, Trigger } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import { ownedKeys } from '../registry.js';
import { specFor } from '../spec.js';
import type {
  CheckResult,
  EvictionFinding,
  PlanNote,
  Target,
  TargetContext,
  TargetDescription,
  Values,
} from '../types.js';
import { changeRefused, currentRejected, loginAccepted, neitherAccepted, type Op } from './answers.js';
import { endpointOf } from './endpoint.js';
import { checkGrafana, type EvictOptions, evictGrafana, serviceOf, tokenListFile } from './evict.js';
import { REQUEST_TIMEOUT_MS, send } from './http.js';
import { actionsOf, planNotes } from './notes.js';

export type GrafanaSecret = SecretConfigOf<'grafana'>;

/** Knobs for tests; the defaults are the product's. */
export interface GrafanaTargetOptions {
  /** Per-request timeout (default 5 s). */
  readonly timeoutMs?: number;
}

/**
 * @example
 * const t = grafanaTarget({ key: 'GRAFANA_ADMIN_PASSWORD', type: 'grafana', url: 'http://127.0.0.1:3000',
 *   user: 'admin' }, { env, configDir });
 * await t.stage(ctx, { GRAFANA_ADMIN_PASSWORD: old }, t.generate(ctx, { GRAFANA_ADMIN_PASSWORD: old }));
 */
export function grafanaTarget(
  secret: GrafanaSecret,
  env: { env: ReadonlyMap<string, string>; configDir: string; stateDir?: string },
  options: GrafanaTargetOptions = {},
): Target {
  const spec = specFor(secret);
  const key = secret.key;
  const ep = endpointOf(key, secret.url, secret.user);
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  let findings: EvictionFinding[] = [];
  const evictOptions = (password: string): EvictOptions => ({
    ep,
    timeoutMs,
    password,
    file: env.stateDir ? tokenListFile(env.stateDir, key) : undefined,
    deleteTokens: secret.deleteTokensOnCompromise,
  });

  /** New values whose change Grafana refused in this process, so revert need not probe them. */
  const refused = new Set<string>();

  const value = (v: Values, which: string): string => {
    const s = v[key];
    // An empty password is never sent: Grafana would count it as a failed login.
    if (!s) throw new RekeyError('ERR_ENVFILE_MISSING_KEY', `${key}: the ${which} value is missing or empty`);
    return s;
  };

  /** `GET /api/user` with `password` on a new request: true on 200, false on 401 (one failed login). */
  const login = async (ctx: TargetContext, password: string): Promise<boolean> =>
    loginAccepted(
      ep,
      await send(ep, { method: 'GET', path: 'api/user', password }, { timeoutMs, signal: ctx.signal }),
    );

  /** `PUT /api/user/password` authenticated with `from`, which Grafana has just accepted. */
  const change = async (ctx: TargetContext, from: string, to: string, op: Op): Promise<void> => {
    const answer = await send(
      ep,
      {
        method: 'PUT',
        path: 'api/user/password',
        password: from,
        json: { oldPassword: from, newPassword: to, confirmNew: to },
      },
      { timeoutMs, signal: ctx.signal },
    );
    if (answer.status === 200) return;
    // A 4xx is answered before anything is stored: `to` was certainly not set. (5xx or no answer: unknown.)
    if (op === 'stage' && answer.status >= 400 && answer.status < 500) refused.add(to);
    throw changeRefused(ep, answer, op);
  };

  /**
   * Makes `to` the password: probes `from` first (zero failures when nothing is done yet), then `to`
   * (one failure when a crash left it done). Never more than one try per password.
   */
  const move = async (ctx: TargetContext, op: Op, from: string, to: string): Promise<void> => {
    if (await login(ctx, from)) {
      if (from !== to) await change(ctx, from, to, op);
      ctx.log.debug(`${key}: ${op}: Grafana password of ${ep.user} changed`);
      return;
    }
    if (await login(ctx, to)) {
      ctx.log.debug(`${key}: ${op}: already done (Grafana accepts the target password)`);
      return;
    }
    throw neitherAccepted(ep, op);
  };

  return {
    key,
    type: secret.type,
    keys: ownedKeys(secret).written,
    secretKeys: ownedKeys(secret).secret,

    describe(_trigger: Trigger): TargetDescription {
      return { fileOnly: false, overlap: false, retiresOld: true, actions: actionsOf(ep) };
    },

    async inspect(): Promise<PlanNote[]> {
      // No request: checkCurrent already logs in once, and every extra probe is a chance of a failure.
      return planNotes(ep, spec);
    },

    async checkCurrent(ctx: TargetContext, cur: Values): Promise<void> {
      if (!(await login(ctx, value(cur, 'current')))) throw currentRejected(ep);
    },

    generate: () => ({ [key]: generate(spec) }),

    async stage(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
      await move(ctx, 'stage', value(cur, 'current'), value(next, 'new'));
    },

    async test(ctx: TargetContext, next: Values): Promise<void> {
      if (!(await login(ctx, value(next, 'new')))) {
        throw new RekeyError(
          'ERR_TARGET_AUTH',
          `${key}: Grafana ${ep.display} rejects the new password of ${ep.user} right after the change (or the user is locked out)`,
        );
      }
    },

    async revert(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
      const old = value(cur, 'current');
      const fresh = next[key];
      if (!fresh) {
        // Nothing was ever generated, so nothing can have been staged: only make sure `cur` works.
        if (!(await login(ctx, old))) throw currentRejected(ep);
        return;
      }
      if (refused.has(fresh)) {
        // Stage saw Grafana refuse this value: probing it would only spend a failed login.
        if (!(await login(ctx, old))) throw currentRejected(ep);
        return;
      }
      await move(ctx, 'revert', fresh, old);
    },

    /**
     * Nothing to retire (the change replaced the old password: Grafana has one per user). Keeps the
     * list of service-account tokens; on compromise revokes the sessions and reports or deletes the
     * tokens created since the previous rotation. Idempotent: a revoked session or deleted token
     * answering 404 on a re-run counts as gone.
     */
    async finish(ctx: TargetContext, _cur: Values, next: Values): Promise<void> {
      findings = await evictGrafana(ctx, evictOptions(value(next, 'new')));
    },

    evictions: () => findings,

    async checkFootholds(ctx: TargetContext, cur: Values): Promise<readonly EvictionFinding[]> {
      const password = cur[key];
      if (!password) {
        const text = `could not check: ${key} is missing or empty in the env file`;
        return [
          { service: serviceOf(ep), foothold: 'sessions', status: 'unchecked', text },
          { service: serviceOf(ep), foothold: 'tokens', status: 'unchecked', text },
        ];
      }
      return checkGrafana(ctx, evictOptions(password));
    },

    /**
     * One row, "Grafana Login". No row for the old password: Grafana has one password per user, so a
     * 200 for `next` already proves the old one is gone, while probing it would be a failed login
     * counting toward the lockout (5 in 5 minutes locks out the new password too).
     */
    async verify(ctx: TargetContext, next: Values): Promise<CheckResult[]> {
      const started = Date.now();
      const base = { name: 'Grafana Login', target: key, expected: '200' };
      try {
        const ok = await login(ctx, value(next, 'expected'));
        const detail = ok
          ? `200 (GET /api/user as ${ep.user}, basic auth)`
          : '401: password rejected (or the user is locked out)';
        return [{ ...base, ok, detail, ms: Date.now() - started }];
      } catch (err) {
        const detail = err instanceof RekeyError ? err.message : 'request failed';
        return [{ ...base, ok: false, detail, ms: Date.now() - started }];
      }
    },
  };
}
