/**
 * `strategy: alternating`: two login roles (`roles: [app_blue, app_green]`), both members of the
 * application role (`memberOf`) so they share its grants. `userKey` names the active role in the env
 * file. Each rotation gives the IDLE role a new password and switches `userKey` to it; the old role
 * keeps working until the next rotation, so consumers move without downtime. On `--trigger
 * compromise` the old role's sessions are ended after the deploy and its password removed after
 * verify.
 *
 * Creating the idle role (first use) and setting its password need the admin connection (a role with
 * CREATEROLE), configured as `admin: { user, passwordKey }`.
 */
import pg from 'pg';
import type { Trigger } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import type { PlanNote, TargetContext, TargetDescription, Values } from '../types.js';
import {
  checkAdmin,
  endSessions,
  expiryKept,
  expiryReset,
  type PgContext,
  requireAdmin,
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
  roleExists,
  roleInfo,
  sessionInfo,
  validUntilClause,
} from './roles.js';
import { countSessions, sessions } from './sessions.js';

export interface AlternatingConfig {
  readonly roles: readonly [string, string];
  readonly userKey: string;
  /** The application role both login roles are members of. */
  readonly memberOf: string;
}

const ident = pg.escapeIdentifier;

/**
 * The alternating-roles strategy for one secret.
 *
 * @example
 * const ops = alternatingStrategy(pc, { roles: ['app_blue', 'app_green'], userKey: 'POSTGRES_USER', memberOf: 'app' });
 */
export function alternatingStrategy(pc: PgContext, cfg: AlternatingConfig): Strategy {
  const { secret, key, db } = pc;
  const { roles, userKey, memberOf } = cfg;
  const ours = (role: string) => roles.includes(role);
  /** The role `values` name (the env file's userKey; `user` when it is empty). */
  const roleOf = (v: Values): string => v[userKey] || secret.user;
  const idleOf = (cur: Values): string => (roleOf(cur) === roles[0] ? roles[1] : roles[0]);
  const login = (v: Values): Login => ({ user: roleOf(v), password: v[key] ?? '' });

  /** Creates `role` or brings it in line (member, LOGIN, INHERIT), with `password` unless it works. */
  const prepareRole = (ctx: TargetContext, role: string, password: string) =>
    db.withShared(ctx, requireAdmin(pc), `set up role ${role}`, async (c) => {
      const me = await sessionInfo(c);
      const r = await roleInfo(c, role, secret.validUntil, memberOf);
      const statements: string[] = [];
      if (!r.exists) {
        if (!ours(role)) throw new RekeyError('ERR_TARGET_REJECTED', `${key}: role ${role} does not exist`);
        if (!(await roleExists(c, memberOf))) {
          throw new RekeyError(
            'ERR_TARGET_REJECTED',
            `${key}: the application role ${memberOf} does not exist`,
            {
              hint: 'Create it (the role that owns the tables), or set `memberOf` in rekey.yaml.',
            },
          );
        }
        const options = [
          'LOGIN',
          'INHERIT',
          `IN ROLE ${ident(memberOf)}`,
          passwordClause(password, me.iterations),
        ];
        if (secret.validUntil !== 'infinity') options.push(validUntilClause(secret.validUntil));
        statements.push(`CREATE ROLE ${ident(role)} ${options.join(' ')}`);
        ctx.log.info(`${key}: creating role ${role} (LOGIN, member of ${memberOf})`);
      } else {
        if (ours(role) && !r.member) statements.push(`GRANT ${ident(memberOf)} TO ${ident(role)}`);
        const options: string[] = [];
        if (!r.canLogin) options.push('LOGIN');
        if (ours(role) && !r.inherit) options.push('INHERIT');
        const works = r.canLogin && (await db.tryLogin(ctx, { user: role, password })).ok;
        if (!works) options.push(passwordClause(password, me.iterations));
        if (r.expiryDiffers) {
          if (r.canSetExpiry) options.push(validUntilClause(secret.validUntil));
          else ctx.log.warn(`${key}: ${expiryKept(pc, r, me)}`);
        }
        if (options.length > 0) statements.push(alterRole(role, ...options));
      }
      if (statements.length === 0) {
        ctx.log.debug(`${key}: role ${role} already accepts the new password`);
        return;
      }
      await inTransaction(c, me.superuser, statements);
    });

  /** ALTER ROLE role PASSWORD NULL (its password logins stop), when the role exists. */
  const dropPassword = (ctx: TargetContext, role: string) =>
    db.withClient(ctx, requireAdmin(pc), `remove the password of ${role}`, async (c) => {
      if (!(await roleExists(c, role))) return false;
      const me = await sessionInfo(c);
      await inTransaction(c, me.superuser, [alterRole(role, 'PASSWORD NULL')]);
      return true;
    });

  /** When stage gave `role` its new password (server time), in this process. */
  let staged: { role: string; password: string; at: string } | undefined;

  return {
    describe(trigger: Trigger): TargetDescription {
      const compromise = trigger === 'compromise';
      const actions = [
        `new password for the idle role of ${roles.join('/')} (created on first use, member of ${memberOf}); ${userKey} switches to it`,
        compromise
          ? `after verify: remove the old role's password${secret.terminateOnCompromise ? ' and end its sessions (also after the deploy)' : ''}`
          : 'the old role keeps working until the next rotation (zero downtime)',
      ];
      return { fileOnly: false, overlap: true, retiresOld: compromise, actions };
    },

    async inspect(ctx, cur): Promise<PlanNote[]> {
      const active = roleOf(cur);
      const idle = idleOf(cur);
      return db.withClient(ctx, requireAdmin(pc), 'inspect', async (c) => {
        const me = await sessionInfo(c);
        const notes: PlanNote[] = [
          {
            level: 'info',
            text: `strategy alternating: ${active} is active; ${idle} gets the new password and ${userKey} switches to it`,
          },
        ];
        const warn = (text: string) => notes.push({ level: 'warn', text });
        const info = (text: string) => notes.push({ level: 'info', text });
        if (!me.superuser && !me.createrole) {
          warn(
            `admin role ${me.user} has neither CREATEROLE nor superuser: it cannot create or alter ${idle}`,
          );
        }
        if (!(await roleExists(c, memberOf))) warn(`the application role ${memberOf} does not exist`);
        const r = await roleInfo(c, idle, secret.validUntil, memberOf);
        if (!r.exists) {
          info(`will create role ${idle} (LOGIN INHERIT IN ROLE ${memberOf}) as ${me.user}`);
        } else {
          info(`role ${idle}: ${describeRole(r)}`);
          if (!r.member) info(`will GRANT ${memberOf} TO ${idle}`);
          if (!r.canLogin) info(`will ALTER ROLE ${idle} LOGIN`);
          if (r.expiryDiffers) {
            if (r.canSetExpiry) info(expiryReset(pc, r));
            else warn(expiryKept(pc, r, me));
          }
        }
        for (const { role, n } of await ownedRelations(c, [...roles])) {
          notes.push({
            level: 'warn',
            trap: 'objects-owned-by-login-role',
            text: `${n} relation${n === 1 ? ' is' : 's are'} owned by ${role}, not ${memberOf}: the other login role cannot use ${n === 1 ? 'it' : 'them'}; REASSIGN OWNED BY ${role} TO ${memberOf}, and create objects after SET ROLE ${memberOf}`,
          });
        }
        notes.push(...(await serverTraps(c, [await roleInfo(c, active, secret.validUntil, memberOf)])));
        if (me.superuser) info(`${me.user} is a superuser: the change runs with log_statement = 'none'`);
        if (ctx.trigger === 'compromise') {
          const n = secret.terminateOnCompromise ? await countSessions(c, active) : 0;
          info(
            `compromise: after verify the password of ${active} is removed${secret.terminateOnCompromise ? `; its sessions are ended (${sessions(n)} now)` : ''}`,
          );
        } else {
          info(`${active} keeps working until the next rotation`);
        }
        return notes;
      });
    },

    async checkCurrent(ctx, cur) {
      requireCurrent(pc, cur);
      await selectOne(pc, ctx, login(cur), 'current password');
      await checkAdmin(pc, ctx, requireAdmin(pc));
    },

    generate: (_ctx, cur) => ({ [userKey]: idleOf(cur), [key]: generate(pc.spec) }),

    async stage(ctx, _cur, next) {
      // The idle role's sessions opened before its new password were opened with an older one
      // (kept by scheduled rotations): on compromise, afterDeploy ends them (issue 12).
      const role = roleOf(next);
      const at = await db.withShared(ctx, requireAdmin(pc), 'server time', async (c) => {
        return (await c.query<{ at: string }>('SELECT now()::text AS at')).rows[0]?.at;
      });
      await prepareRole(ctx, role, next[key] ?? '');
      if (at !== undefined) staged = { role, password: next[key] ?? '', at };
    },

    async test(ctx, next) {
      const role = roleOf(next);
      await selectOne(pc, ctx, login(next), 'new password');
      if (!ours(role)) return;
      const inherits = await db.withClient(ctx, login(next), `membership of ${role}`, async (c) => {
        const { rows } = await c.query<{ ok: boolean }>(
          "SELECT pg_has_role(current_user, $1, 'USAGE') AS ok",
          [memberOf],
        );
        return rows[0]?.ok === true;
      });
      if (!inherits) {
        throw new RekeyError(
          'ERR_TARGET_REJECTED',
          `${key}: role ${role} does not inherit the privileges of ${memberOf}`,
          {
            hint: `GRANT ${memberOf} TO ${role} and ALTER ROLE ${role} INHERIT, then rotate again.`,
          },
        );
      }
    },

    async afterDeploy(ctx, cur, next) {
      const old = roleOf(cur);
      if (ctx.trigger !== 'compromise' || !secret.terminateOnCompromise || old === roleOf(next)) return;
      await endSessions(pc, ctx, requireAdmin(pc), old, undefined, 'the retired role');
      // The new role's sessions from before its new password (an older password of that role). The
      // time is known in the process that staged; after a crash, every session but ours.
      const at =
        staged !== undefined && staged.role === roleOf(next) && staged.password === next[key]
          ? staged.at
          : undefined;
      await endSessions(
        pc,
        ctx,
        requireAdmin(pc),
        roleOf(next),
        at,
        at === undefined
          ? 'the new role: every session but ours, the time of its new password is unknown here'
          : 'the new role: sessions opened before its new password',
      );
    },

    async verify(ctx, next, previous, retired) {
      const old =
        retired &&
        previous !== undefined &&
        (roleOf(previous) !== roleOf(next) || previous[key] !== next[key])
          ? login(previous)
          : undefined;
      return verifyRows(pc, ctx, login(next), old);
    },

    async finish(ctx, cur, next) {
      const old = roleOf(cur);
      if (ctx.trigger !== 'compromise' || old === roleOf(next)) return;
      if (await dropPassword(ctx, old))
        ctx.log.info(`${key}: removed the password of role ${old} (compromise)`);
      // Sessions opened with the old password between the deploy and now.
      if (secret.terminateOnCompromise)
        await endSessions(pc, ctx, requireAdmin(pc), old, undefined, 'the retired role');
    },

    async revert(ctx, cur, next) {
      const active = roleOf(cur);
      const idle = roleOf(next);
      if (idle !== active) {
        if (ours(idle)) await dropPassword(ctx, idle);
        else
          ctx.log.warn(
            `${key}: role ${idle} is not one of ${roles.join('/')}: it keeps the password set by stage`,
          );
      }
      if ((await db.tryLogin(ctx, login(cur))).ok) return;
      await db.withClient(ctx, requireAdmin(pc), `ALTER ROLE ${active} PASSWORD`, async (c) => {
        const me = await sessionInfo(c);
        await inTransaction(c, me.superuser, [
          alterRole(active, passwordClause(cur[key] ?? '', me.iterations)),
        ]);
      });
    },
  };
}

/** Relations (tables, views, sequences, ...) owned by each of `roles` in the connected database. */
async function ownedRelations(c: pg.Client, roles: string[]): Promise<{ role: string; n: number }[]> {
  const { rows } = await c.query<{ role: string; n: number }>(
    `SELECT r.rolname AS role, count(*)::int AS n
       FROM pg_class k JOIN pg_roles r ON r.oid = k.relowner JOIN pg_namespace s ON s.oid = k.relnamespace
      WHERE r.rolname = ANY($1) AND k.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
        AND s.nspname NOT IN ('pg_catalog', 'information_schema') AND s.nspname NOT LIKE 'pg\\_toast%'
      GROUP BY r.rolname ORDER BY r.rolname`,
    [roles],
  );
  return rows;
}
