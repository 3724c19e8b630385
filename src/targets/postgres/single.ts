/**
 * `strategy: single` (the default): the role named by `user` gets a new password. A role has exactly
 * one password, so the old one stops working the moment the new one is set: the engine stages this
 * target last, right before the env file is written. Open connections keep working (PostgreSQL checks
 * passwords only at login).
 *
 * The change is made by the admin connection when `admin` is configured (it may also reset VALID
 * UNTIL), else by the role itself with its current password (a role may change its own password,
 * but not its own VALID UNTIL without CREATEROLE or superuser).
 */
import type { Trigger } from '../../config/schema.js';
import { isRekeyError, RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import type { PlanNote, TargetContext, TargetDescription, Values } from '../types.js';
import {
  checkAdmin,
  endSessions,
  expiryKept,
  expiryReset,
  type PgContext,
  requireCurrent,
  type Strategy,
  selectOne,
  serverTraps,
  verifyRows,
} from './common.js';
import type { Login } from './connect.js';
import {
  alterRole,
  describeRole,
  inTransaction,
  passwordClause,
  roleInfo,
  serverNow,
  sessionInfo,
  validUntilClause,
} from './roles.js';
import { countSessions, sessions } from './sessions.js';

/**
 * The single-password strategy for one secret.
 *
 * @example
 * const ops = singleStrategy(pc); await ops.stage(ctx, cur, next);
 */
export function singleStrategy(pc: PgContext): Strategy {
  const { secret, key, db } = pc;
  const user = secret.user;
  const login = (v: Values, label?: string): Login => ({
    user,
    password: v[key] ?? '',
    ...(label ? { label } : {}),
  });
  /**
   * The server time right after this process set a password (for ending older sessions on
   * compromise); unknown after a restart (recover), when every older session is ended instead.
   */
  let changed: { password: string; at: string } | undefined;
  /** The server time right before this process set a password (the same connection, read first). */
  let before: { password: string; at: string } | undefined;

  /**
   * Sets `password` on `user` connected as `as`; with `expiry`, also VALID UNTIL where allowed.
   * Returns the server's time read right before the change and right after it. The admin's
   * connection may be one the stages of other roles on this server use too (no login per role).
   */
  const setPassword = (ctx: TargetContext, as: Login, password: string, expiry: boolean) =>
    (as.label === 'admin' ? db.withShared : db.withClient)(
      ctx,
      as,
      `ALTER ROLE ${user} PASSWORD (as ${as.user})`,
      async (c) => {
        const at = await serverNow(c);
        const me = await sessionInfo(c);
        const role = await roleInfo(c, user, secret.validUntil);
        if (!role.exists) throw new RekeyError('ERR_TARGET_REJECTED', `${key}: role ${user} does not exist`);
        const options = [passwordClause(password, me.iterations)];
        if (expiry && role.expiryDiffers) {
          if (role.canSetExpiry) options.push(validUntilClause(secret.validUntil));
          else ctx.log.warn(`${key}: ${expiryKept(pc, role, me)}`);
        }
        await inTransaction(c, me.superuser, [alterRole(user, ...options)]);
        return { before: at, after: await serverNow(c) };
      },
    );

  return {
    describe(trigger: Trigger): TargetDescription {
      const actions = [
        `new password for role ${user}, sent as a SCRAM-SHA-256 verifier (the old one stops working at once)`,
        `VALID UNTIL ${secret.validUntil} where the connecting role may set it`,
      ];
      if (trigger === 'compromise' && secret.terminateOnCompromise) {
        actions.push(`after the deploy: end the sessions of ${user} opened before the change`);
      }
      return { fileOnly: false, overlap: false, retiresOld: true, actions };
    },

    async inspect(ctx, cur): Promise<PlanNote[]> {
      const as = pc.admin() ?? login(cur, 'current password');
      return db.withClient(ctx, as, 'inspect', async (c) => {
        const me = await sessionInfo(c);
        const role = await roleInfo(c, user, secret.validUntil);
        if (!role.exists) return [{ level: 'warn', text: `role ${user} does not exist` }];
        const notes: PlanNote[] = [
          { level: 'info', text: `role ${user}: ${describeRole(role)}` },
          {
            level: 'info',
            text: `strategy single: the password of ${user} is replaced (set as ${me.user}); the old one stops working then`,
          },
          {
            level: 'info',
            text: `sent as a SCRAM-SHA-256 verifier (${me.iterations} iterations): the password never reaches the server`,
          },
        ];
        if (role.expiryDiffers) {
          notes.push(
            role.canSetExpiry
              ? { level: 'info', text: expiryReset(pc, role) }
              : { level: 'warn', text: expiryKept(pc, role, me) },
          );
        }
        if (me.superuser) {
          notes.push({
            level: 'info',
            text: `${me.user} is a superuser: the change runs with log_statement = 'none'`,
          });
        }
        notes.push(...(await serverTraps(c, [role])));
        if (ctx.trigger === 'compromise' && secret.terminateOnCompromise) {
          const n = await countSessions(c, user);
          notes.push({
            level: 'info',
            text: `after the deploy: end the sessions of ${user} opened before the change (${sessions(n)} now)`,
          });
        }
        return notes;
      });
    },

    async checkCurrent(ctx, cur) {
      requireCurrent(pc, cur);
      await selectOne(pc, ctx, login(cur), 'current password');
      const admin = pc.admin();
      if (admin !== undefined) await checkAdmin(pc, ctx, admin);
    },

    generate: () => ({ [key]: generate(pc.spec) }),

    async stage(ctx, cur, next) {
      const password = next[key] ?? '';
      const admin = pc.admin();
      const already = async () => {
        if (!(await db.tryLogin(ctx, login(next))).ok) return false;
        ctx.log.debug(`${key}: role ${user} already accepts the new password`);
        return true;
      };
      // With `admin`, the password is set whether or not a rerun finds it set already (setting it
      // again is harmless, and a check would cost a login: a new server process and a SCRAM
      // exchange). Without, the role changes its own password with its current one: a login that
      // fails once the new one is set, so the check whether it is done already runs only then.
      try {
        const at = await setPassword(ctx, admin ?? login(cur, 'current password'), password, true);
        changed = { password, at: at.after };
        before = { password, at: at.before };
      } catch (err) {
        if (!isRekeyError(err, 'ERR_TARGET_AUTH')) throw err;
        // A rerun where the admin is this role (its password is the one set already), or a role
        // that set its own: the new password works, the stage is done.
        if (await already()) return;
        if (admin !== undefined) throw err;
        throw new RekeyError(
          'ERR_TARGET_AUTH',
          `${key}: role ${user} accepts neither the new nor the current password`,
          {
            cause: err,
            hint: 'Someone changed the password outside rekey: set it back by hand, or configure `admin`.',
          },
        );
      }
    },

    test: (ctx, next) => selectOne(pc, ctx, login(next), 'new password'),

    stagedAt: (next) => (before !== undefined && before.password === next[key] ? before.at : undefined),

    async afterDeploy(ctx, _cur, next) {
      if (ctx.trigger !== 'compromise' || !secret.terminateOnCompromise) return;
      const at = changed !== undefined && changed.password === next[key] ? changed.at : undefined;
      await endSessions(
        pc,
        ctx,
        pc.admin() ?? login(next),
        user,
        at,
        at === undefined
          ? 'every session but ours: the time of the change is unknown here'
          : 'opened before the change',
      );
    },

    async verify(ctx, next, previous, retired) {
      const old =
        retired && previous !== undefined && previous[key] !== next[key] ? login(previous) : undefined;
      return verifyRows(pc, ctx, login(next), old);
    },

    // The password was replaced at stage: there is no old one left to retire.
    async finish() {},

    async revert(ctx, cur, next) {
      if ((await db.tryLogin(ctx, login(cur))).ok) {
        ctx.log.debug(`${key}: role ${user} accepts the old password (nothing to revert)`);
        return;
      }
      const admin = pc.admin();
      try {
        await setPassword(ctx, admin ?? login(next, 'new password'), cur[key] ?? '', false);
        changed = undefined;
        before = undefined;
      } catch (err) {
        if (admin !== undefined || !isRekeyError(err, 'ERR_TARGET_AUTH')) throw err;
        throw new RekeyError(
          'ERR_TARGET_AUTH',
          `${key}: role ${user} accepts neither the old nor the new password`,
          {
            cause: err,
            hint: `Set the password of ${user} to the value in the backup by hand (ALTER ROLE, or \\password in psql), then run \`rekey recover\`.`,
          },
        );
      }
    },
  };
}
