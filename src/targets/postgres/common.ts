/**
 * What both strategies share: the secret's connector and admin login, the "new connection, SELECT 1"
 * check, the validation-table rows and ending the sessions of a retired credential.
 */

import type pg from 'pg';
import type { SecretConfigOf } from '../../config/schema.js';
import type { PlanNote } from '../../engine/ports.js';
import { isRekeyError, RekeyError } from '../../lib/errors.js';
import type { GenerateSpec } from '../../lib/generate.js';
import { safeMessage } from '../../lib/redact.js';
import type { CheckResult, Target, TargetContext, Values } from '../types.js';
import { type Connector, type Login, pgFailure } from './connect.js';
import type { RoleInfo, SessionInfo } from './roles.js';
import { sessions, terminateSessions } from './sessions.js';

export type PostgresSecret = SecretConfigOf<'postgres'>;

/** The operations a strategy implements; index.ts adds the keys. */
export type Strategy = Omit<Target, 'key' | 'type' | 'keys' | 'secretKeys' | 'close'> & {
  /**
   * The server's time right before this process's stage set `next` (read on the stage's own
   * connection); undefined when unknown here. Without it, index.ts reads it on a connection of its own.
   */
  readonly stagedAt?: (next: Values) => string | undefined;
};

export interface PgContext {
  readonly secret: PostgresSecret;
  readonly key: string;
  readonly spec: GenerateSpec;
  readonly db: Connector;
  /** The admin login when configured. Throws ERR_ENVFILE_MISSING_KEY when its password is empty. */
  readonly admin: () => Login | undefined;
}

/**
 * The admin login, required (alternating roles; index.ts refuses that strategy without `admin`).
 *
 * @example
 * await pc.db.withClient(ctx, requireAdmin(pc), 'CREATE ROLE', fn);
 */
export function requireAdmin(pc: PgContext): Login {
  const admin = pc.admin();
  if (admin === undefined)
    throw new RekeyError('ERR_INTERNAL', `${pc.key}: the admin connection is not configured`);
  return admin;
}

/**
 * Throws ERR_ENVFILE_MISSING_KEY when the env file holds no current password.
 *
 * @example
 * requireCurrent(pc, cur);
 */
export function requireCurrent(pc: PgContext, cur: Values): void {
  if (!cur[pc.key]) {
    throw new RekeyError('ERR_ENVFILE_MISSING_KEY', `${pc.key} is missing or empty in the env file`);
  }
}

/**
 * A new connection as `login`, `SELECT 1`, exactly one row; throws ERR_TARGET_AUTH when rejected.
 *
 * @example
 * await selectOne(pc, ctx, { user: 'app', password }, 'current password');
 */
export async function selectOne(
  pc: PgContext,
  ctx: TargetContext,
  login: Login,
  what: string,
): Promise<void> {
  const rows = await pc.db.withClient(ctx, login, `SELECT 1 as ${login.user}`, async (c) => {
    return (await c.query('SELECT 1 AS one')).rows;
  });
  if (rows.length !== 1) {
    throw new RekeyError(
      'ERR_TARGET_REJECTED',
      `${pc.key}: SELECT 1 as ${login.user} with the ${what} returned ${rows.length} rows`,
    );
  }
}

/**
 * {@link selectOne} as the admin, once per server and admin login for all the targets of a phase
 * (`ctx.shared`: the preflight checks). A target whose shared check failed checks again itself, so
 * its error names its own key.
 *
 * @example
 * await checkAdmin(pc, ctx, admin);
 */
export async function checkAdmin(pc: PgContext, ctx: TargetContext, admin: Login): Promise<void> {
  const memo = ctx.shared;
  if (memo === undefined) return selectOne(pc, ctx, admin, 'admin password');
  const slot = pc.db.sharedKey('admin check', admin);
  let check = memo.get(slot) as Promise<boolean> | undefined;
  if (check === undefined) {
    check = selectOne(pc, ctx, admin, 'admin password').then(
      () => true,
      () => false,
    );
    memo.set(slot, check);
  }
  if (!(await check)) await selectOne(pc, ctx, admin, 'admin password');
}

/**
 * The validation-table rows: "DB Access" (new connection with `next`, SELECT 1 → 1 row) and, when
 * the old credential was retired and differs, "DB old password" (expected: rejected, 28P01).
 * Never throws: a failure is a failed row.
 *
 * @example
 * await verifyRows(pc, ctx, nextLogin, retired ? prevLogin : undefined);
 */
export async function verifyRows(
  pc: PgContext,
  ctx: TargetContext,
  next: Login,
  previous?: Login,
): Promise<CheckResult[]> {
  const rows: CheckResult[] = [];
  let started = Date.now();
  try {
    await selectOne(pc, ctx, next, 'new password');
    rows.push(row(pc, 'DB Access', true, `1 row as ${next.user}`, '1 row', started));
  } catch (err) {
    rows.push(row(pc, 'DB Access', false, safeMessage(err), '1 row', started));
  }
  if (previous !== undefined) {
    started = Date.now();
    try {
      const r = await pc.db.tryLogin(ctx, previous);
      rows.push(
        r.ok
          ? row(
              pc,
              'DB old password',
              false,
              `old password of ${previous.user} still ACCEPTED`,
              'rejected',
              started,
            )
          : row(
              pc,
              'DB old password',
              true,
              `old password of ${previous.user} rejected (${r.code})`,
              'rejected',
              started,
            ),
      );
    } catch (err) {
      rows.push(row(pc, 'DB old password', false, safeMessage(err), 'rejected', started));
    }
  }
  return rows;
}

function row(
  pc: PgContext,
  name: string,
  ok: boolean,
  detail: string,
  expected: string,
  started: number,
): CheckResult {
  return { name, target: pc.key, ok, detail, expected, ms: Date.now() - started };
}

/**
 * Ends the sessions of `role` (those started before `startedBefore`, a server timestamp, when given),
 * connected as `login`, and logs the counts. Missing privilege is a warning, not a failure.
 *
 * @example
 * await endSessions(pc, ctx, admin, 'app_blue', undefined, 'the old role');
 */
export async function endSessions(
  pc: PgContext,
  ctx: TargetContext,
  login: Login,
  role: string,
  startedBefore: string | undefined,
  which: string,
): Promise<void> {
  const by = `${login.user}${login.label ? ` (${login.label})` : ''}`;
  try {
    const { ended, denied } = await pc.db.withClient(ctx, login, `end the sessions of ${role}`, (c) =>
      terminateSessions(c, role, startedBefore),
    );
    ctx.log.info(`${pc.key}: ended ${sessions(ended)} of role ${role} (${which})`);
    if (denied > 0) {
      ctx.log.warn(
        `${pc.key}: ${sessions(denied)} of role ${role} could not be ended by ${by} (it needs the privileges of ${role} or pg_signal_backend): end them by hand with pg_terminate_backend`,
      );
    }
  } catch (err) {
    const e = pgFailure(err, pc.key, `end the sessions of ${role}`);
    if (!isRekeyError(e, 'ERR_TARGET_PRIVILEGE')) throw e;
    ctx.log.warn(`${pc.key}: the sessions of role ${role} were not ended: ${e.message}`);
  }
}

/**
 * The warning when a role's VALID UNTIL differs from `validUntil` and the connected role may not
 * change it (the expiry silently carries over to the new password).
 *
 * @example
 * if (role.expiryDiffers && !role.canSetExpiry) ctx.log.warn(`${pc.key}: ${expiryKept(pc, role, me)}`);
 */
export function expiryKept(pc: PgContext, role: RoleInfo, me: SessionInfo): string {
  const now = role.validUntil === null ? 'no VALID UNTIL' : `VALID UNTIL ${role.validUntil}`;
  return `role ${role.name} has ${now} and ${me.user} may not change it to ${pc.secret.validUntil} (needs superuser, or CREATEROLE with ADMIN OPTION on ${role.name}; configure \`admin\`): the new password keeps that expiry`;
}

/**
 * The plan note when rekey will reset a role's VALID UNTIL.
 *
 * @example
 * expiryReset(pc, role); // 'role app: VALID UNTIL 2030-01-01 00:00:00+00 will be set to infinity ...'
 */
export function expiryReset(pc: PgContext, role: RoleInfo): string {
  const now = role.validUntil === null ? 'none' : role.validUntil;
  return `role ${role.name}: VALID UNTIL ${now} will be set to ${pc.secret.validUntil} with the new password`;
}

/**
 * The server-side traps `rekey doctor` reads from the plan notes: `password_encryption` other than
 * scram-sha-256, and each role's VALID UNTIL (when its password stops working). Read-only.
 *
 * @example
 * notes.push(...(await serverTraps(client, [role])));
 */
export async function serverTraps(client: pg.Client, roles: readonly RoleInfo[]): Promise<PlanNote[]> {
  const notes: PlanNote[] = [];
  const { rows } = await client.query<{ enc: string }>(
    "SELECT current_setting('password_encryption') AS enc",
  );
  const enc = rows[0]?.enc ?? '';
  if (enc !== 'scram-sha-256') {
    notes.push({
      level: 'warn',
      trap: 'password-encryption',
      text: `password_encryption is ${enc || 'unknown'}, not scram-sha-256: passwords set by other tools are stored as weak hashes (rekey always sends SCRAM verifiers)`,
    });
  }
  for (const r of roles) {
    if (!r.exists || r.validUntil === null || r.validUntil === 'infinity') continue;
    notes.push({
      level: 'info',
      trap: 'password-expiry',
      at: r.validUntil,
      text: `role ${r.name}: its password stops working at ${r.validUntil} (VALID UNTIL)`,
    });
  }
  return notes;
}
