/**
 * `type: postgres`: the password of a PostgreSQL login role, rotated live. The new password reaches
 * the server only as a SCRAM-SHA-256 verifier computed here (never in a statement log,
 * `pg_stat_statements` or an error message). Two strategies:
 *
 * - `single` (default, single.ts): the role's one password is replaced; no overlap.
 * - `alternating` (alternating.ts): two login roles take turns; zero downtime.
 *
 * Files: connect.ts (connections, error mapping), roles.ts (role reads, ALTER ROLE), sessions.ts
 * (pg_terminate_backend), scram.ts (verifiers), common.ts (checks shared by both strategies).
 */

import path from 'node:path';
import type { SecretConfigOf } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { ownedKeys } from '../registry.js';
import { specFor } from '../spec.js';
import type { EvictionFinding, PlanNote, Target, Values } from '../types.js';
import { type AlternatingConfig, alternatingStrategy } from './alternating.js';
import type { PgContext } from './common.js';
import { connector, type Login } from './connect.js';
import { checkFootholds as checkFootholdsOf, checkRoles, forgetSharedRead } from './evict.js';
import { singleStrategy } from './single.js';

export { SCRAM_ITERATIONS, scramVerifier } from './scram.js';

/**
 * Builds the PostgreSQL target of one secret. `env.env` holds the env file's current values (the
 * admin password is read from it). Throws ERR_CONFIG_INVALID for an inconsistent configuration.
 *
 * @example
 * const t = postgresTarget(
 *   { key: 'POSTGRES_PASSWORD', type: 'postgres', host: '127.0.0.1', port: 5432, user: 'app',
 *     database: 'bi', strategy: 'single', validUntil: 'infinity', terminateOnCompromise: true },
 *   { env, configDir },
 * );
 * await t.checkCurrent(ctx, { POSTGRES_PASSWORD: env.get('POSTGRES_PASSWORD') ?? '' });
 */
export function postgresTarget(
  secret: SecretConfigOf<'postgres'>,
  env: { env: ReadonlyMap<string, string>; configDir: string; stateDir?: string },
): Target {
  const key = secret.key;
  if (secret.strategy === 'single' && (secret.roles || secret.userKey || secret.memberOf)) {
    throw invalid(secret, '`roles`, `userKey` and `memberOf` apply only to `strategy: alternating`');
  }
  const alternating = secret.strategy === 'alternating' ? alternatingConfig(secret) : undefined;
  const adminCfg = secret.admin;
  const admin = (): Login | undefined => {
    if (adminCfg === undefined) return undefined;
    const password = env.env.get(adminCfg.passwordKey);
    if (!password) {
      throw new RekeyError(
        'ERR_ENVFILE_MISSING_KEY',
        `${adminCfg.passwordKey} (the admin password for ${key}) is missing or empty in the env file`,
      );
    }
    return { user: adminCfg.user, password, label: 'admin', passwordKey: adminCfg.passwordKey };
  };
  const pc: PgContext = {
    secret,
    key,
    spec: specFor(secret),
    db: connector(
      {
        host: secret.host,
        port: secret.port,
        database: secret.database,
        ...(secret.sslmode ? { sslmode: secret.sslmode } : {}),
      },
      key,
    ),
    admin,
  };
  const strategy = alternating ? alternatingStrategy(pc, alternating) : singleStrategy(pc);
  let findings: EvictionFinding[] = [];
  let stagedAt: { password: string; at: string } | undefined;
  const known = [
    secret.user,
    ...(secret.roles ?? []),
    ...(adminCfg ? [adminCfg.user] : []),
    ...(alternating ? [alternating.memberOf] : []),
  ];
  const kept = {
    db: pc.db,
    known,
    file: env.stateDir ? path.join(env.stateDir, `postgres-roles-${key}.json`) : undefined,
    service: `PostgreSQL ${secret.host}:${secret.port}/${secret.database} (${key})`,
  };
  const loginOf = (values: Values, label: string): Login => ({
    user: alternating ? (values[alternating.userKey] ?? secret.user) : secret.user,
    password: values[key] ?? '',
    label,
  });
  return {
    key,
    type: secret.type,
    keys: ownedKeys(secret).written,
    // The admin password is secret but not owned: rekey reads it and never writes it.
    secretKeys: ownedKeys(secret).secret,
    ...strategy,
    async probeDefaults(ctx, cur) {
      // The superuser's installer default; a role whose current password is that default is
      // reported from the env file's value (rekey doctor RK104), not by a login.
      const adminPassword = adminCfg ? env.env.get(adminCfg.passwordKey) : undefined;
      const candidates = ['postgres'].filter(
        (user) =>
          !(loginOf(cur, 'current').user === user && cur[key] === user) &&
          !(adminCfg?.user === user && adminPassword === user),
      );
      const notes: PlanNote[] = [];
      for (const user of candidates) {
        const r = await pc.db.tryLogin(ctx, { user, password: user, label: 'default' });
        if (r.ok)
          notes.push({
            level: 'warn',
            trap: 'default-password',
            text: `PostgreSQL ${secret.host}:${secret.port} accepts the default login ${user}/${user}`,
          });
      }
      return notes;
    },
    async stage(ctx, cur, next) {
      // The server's time before the new password exists: sessions opened before it used an older
      // one (kept for checkFootholds; unknown when finish runs in another process). The strategy
      // reads it on its own connection when it can (single); else a connection of its own.
      const at = strategy.stagedAt
        ? undefined
        : await pc.db
            .withClient(ctx, admin() ?? loginOf(cur, 'current'), 'server time', async (c) => {
              return (await c.query<{ at: string }>('SELECT now()::text AS at')).rows[0]?.at;
            })
            .catch(() => undefined);
      await strategy.stage(ctx, cur, next);
      const time = strategy.stagedAt ? strategy.stagedAt(next) : at;
      stagedAt = time === undefined ? undefined : { password: next[key] ?? '', at: time };
    },
    async finish(ctx, cur, next) {
      await strategy.finish(ctx, cur, next);
      // Alternating's compromise finish removes the retired role's password: a read shared with
      // the other finishes on this server predates it.
      if (alternating && ctx.trigger === 'compromise') forgetSharedRead(ctx, pc.db);
      findings = await checkRoles(ctx, {
        ...kept,
        changedAt: stagedAt && stagedAt.password === next[key] ? stagedAt.at : undefined,
        login: () => admin() ?? loginOf(next, 'new'),
        rotated: alternating ? [...alternating.roles] : [secret.user],
      });
    },
    evictions: () => findings,
    checkFootholds: (ctx, cur) =>
      checkFootholdsOf(ctx, {
        ...kept,
        login: () => admin() ?? loginOf(cur, 'current'),
        // Alternating: the role not in use is the retired one; single: the same role, whose sessions
        // opened before the last rotation may hold the old password.
        retired: alternating
          ? (alternating.roles.find((r) => r !== cur[alternating.userKey]) ?? alternating.roles[0])
          : secret.user,
        since: !alternating,
        ...(alternating ? { active: cur[alternating.userKey] ?? secret.user } : {}),
      }),
  };
}

function invalid(secret: SecretConfigOf<'postgres'>, message: string): RekeyError {
  return new RekeyError('ERR_CONFIG_INVALID', `secrets.${secret.key}: ${message}`);
}

/** Checks the alternating fields; throws ERR_CONFIG_INVALID naming what is missing. */
function alternatingConfig(secret: SecretConfigOf<'postgres'>): AlternatingConfig {
  const { roles, userKey, admin } = secret;
  if (roles === undefined) throw invalid(secret, 'strategy alternating needs `roles: [a, b]`');
  if (roles[0] === roles[1]) throw invalid(secret, '`roles` must name two different roles');
  if (userKey === undefined)
    throw invalid(secret, 'strategy alternating needs `userKey` (e.g. POSTGRES_USER)');
  if (userKey === secret.key) throw invalid(secret, '`userKey` must differ from `key`');
  if (admin === undefined) {
    throw invalid(
      secret,
      'strategy alternating needs `admin: { user, passwordKey }` (a role with CREATEROLE)',
    );
  }
  if (roles.includes(admin.user)) throw invalid(secret, '`admin.user` must not be one of `roles`');
  const memberOf = secret.memberOf ?? (roles.includes(secret.user) ? undefined : secret.user);
  if (memberOf === undefined) {
    throw invalid(secret, '`memberOf` is required when `user` is one of `roles` (name the application role)');
  }
  if (roles.includes(memberOf)) throw invalid(secret, '`memberOf` must not be one of `roles`');
  return { roles, userKey, memberOf };
}
