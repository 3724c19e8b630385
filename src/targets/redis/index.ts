/**
 * `type: redis`: the password of a Redis ACL user (`default` unless configured), rotated with two
 * valid passwords in between (SERVICE-FACTS "Redis"):
 * - stage: `ACL SETUSER <user> #<sha256(new)>`, so old and new both work; then persist;
 * - finish: `ACL SETUSER <user> !<sha256(old)>` once the new one is in place; then persist;
 * - revert: `#<sha256(old)> !<sha256(new)>` in one command; then persist.
 * The journal keeps what Redis cannot tell afterwards (`ctx.facts`): `service` whether Redis may
 * accept the new password, `disk` whether its config file or aclfile may hold it. A revert whose save
 * fails while the disk may hold the new password fails (exit 4) on every run until a save succeeds:
 * otherwise the discarded password would work again after a Redis restart.
 * Only hashes travel in commands; the plaintext goes only in AUTH. Connections already authenticated
 * keep working throughout. Every operation opens its own connection, first reads `ACL GETUSER` to see
 * what is already done, and authenticates with the credential it expects first, then the other one
 * (so a re-run after a crash or a restart finds its way in).
 */

import type { SecretConfigOf, Trigger } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { generate } from '../../lib/generate.js';
import { safeMessage } from '../../lib/redact.js';
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
import { type AclUser, aclHash, getUser, setUser } from './acl.js';
import {
  classify,
  describeDriverError,
  type RedisConn,
  type RedisEndpoint,
  redisEndpoint,
  toRekeyError,
  where,
  withRedis,
} from './connect.js';
import { type AclSnapshot, aclSnapshot, serviceOf, unknownPasswords } from './evict.js';
import {
  counts,
  knownAfterFinish,
  knownUsersFile,
  lookForFootholds,
  readKnownUsers,
  writeKnownUsers,
} from './footholds.js';
import { describePersistence, type Persistence, persist, resolvePersistence } from './persist.js';
import { authRow, oldPasswordRow, probe } from './probe.js';

export type RedisSecret = SecretConfigOf<'redis'>;

/**
 * @example
 * const t = redisTarget({ key: 'REDIS_PASSWORD', type: 'redis', host: '127.0.0.1', port: 6379,
 *   user: 'default', tls: false, persist: 'auto' }, { env, configDir });
 * await t.stage(ctx, { REDIS_PASSWORD: old }, t.generate(ctx, { REDIS_PASSWORD: old }));
 */
export function redisTarget(
  secret: RedisSecret,
  _env: { env: ReadonlyMap<string, string>; configDir: string; evictUnknown?: boolean; stateDir?: string },
): Target {
  const evictUnknown = _env.evictUnknown === true;
  /** Every ACL user's password hashes as preflight saw them (this process only; finish compares and keeps counts). */
  let preflightAcl: AclSnapshot | undefined;
  let preflightProblem = 'finish ran in another process than preflight (rekey recover)';
  const findings: EvictionFinding[] = [];
  const spec = specFor(secret);
  const key = secret.key;
  const ep: RedisEndpoint = redisEndpoint(secret);
  const adminCfg = secret.admin;
  if (adminCfg && adminCfg.user === secret.user) {
    throw new RekeyError('ERR_CONFIG_INVALID', `${key}: \`admin.user\` is the rotated user ${secret.user}`, {
      hint: 'Name another ACL user as `admin` (one allowed ACL, CONFIG and CLIENT, e.g. default), or remove `admin`.',
    });
  }
  /** The admin login's endpoint: ACL reads and changes, persistence and eviction go through it. */
  const adminEp: RedisEndpoint | undefined = adminCfg ? redisEndpoint(secret, adminCfg.user) : undefined;
  /**
   * The admin password, read from the env file (never rotated by this secret, never written by it).
   * When another secret of the rotation under way rotates it, its new value is tried second
   * (`ctx.rotating`): that secret's finish may have retired the env file's value.
   */
  const adminPasswords = (ctx: Pick<TargetContext, 'rotating'> | undefined): string[] => {
    const pw = adminPassword();
    const next = adminCfg ? ctx?.rotating?.(adminCfg.passwordKey) : undefined;
    return next && next !== pw ? [pw, next] : [pw];
  };
  const adminPassword = (): string => {
    const pw = adminCfg ? _env.env.get(adminCfg.passwordKey) : undefined;
    if (!adminCfg || !pw) {
      throw new RekeyError(
        'ERR_ENVFILE_MISSING_KEY',
        `${adminCfg?.passwordKey ?? 'admin.passwordKey'} (the admin password for ${key}) is missing or empty in the env file`,
        {
          hint: `Add the password of ACL user ${adminCfg?.user ?? 'admin.user'} to the env file under that key.`,
        },
      );
    }
    return pw;
  };
  /**
   * Runs `fn` on the control connection: as the admin when configured, else as the rotated user
   * with the first of `passwords` Redis accepts.
   */
  const control = <T>(
    passwords: string[],
    fn: (conn: RedisConn) => Promise<T>,
    ctx: Pick<TargetContext, 'signal' | 'rotating'> | undefined,
    options: { nopass?: boolean } = {},
  ): Promise<T> =>
    adminEp
      ? withRedis(adminEp, adminPasswords(ctx), fn, ctx?.signal)
      : withRedis(ep, passwords, fn, ctx?.signal, options);
  /**
   * A driver error on the control connection, as a RekeyError: a rotated user that may not read its
   * own ACL (NOPERM) gets "configure admin"; the admin's rejections name the admin.
   */
  const controlError = (err: unknown, context: string): RekeyError => {
    if (err instanceof RekeyError) return err;
    const kind = classify(err);
    if (!adminCfg) {
      if (kind !== 'privilege') return toRekeyError(err, ep, context);
      return new RekeyError(
        'ERR_TARGET_PRIVILEGE',
        `${key}: ${where(ep)}: user ${ep.user} may not read or change ACLs (${describeDriverError(err)}): configure \`admin\` for ${key} to rotate it`,
        {
          cause: err,
          hint: `Configure \`admin: { user, passwordKey }\` for ${key} in rekey.yaml: an ACL user allowed ACL, CONFIG and CLIENT (e.g. default), its password in the env file under passwordKey (read, never written by this secret).`,
        },
      );
    }
    const e = toRekeyError(
      err,
      ep,
      `${context}, as admin user ${adminCfg.user} with ${adminCfg.passwordKey}`,
    );
    const hint =
      kind === 'auth'
        ? `Check ${adminCfg.passwordKey} in the env file: it must be the password of ACL user ${adminCfg.user}.`
        : kind === 'privilege'
          ? `Allow ACL user ${adminCfg.user} ACL, CONFIG and CLIENT (for example +@admin), or name another \`admin\`.`
          : undefined;
    return new RekeyError(e.code, e.message, { cause: err, ...(hint ? { hint } : {}) });
  };
  const value = (v: Values, which: string): string => {
    const s = v[key];
    if (!s) throw new RekeyError('ERR_ENVFILE_MISSING_KEY', `${key}: the ${which} value is missing or empty`);
    return s;
  };

  /** Connects (expected password first), reads how to persist, refusing a setting that cannot work. */
  const session = async <T>(
    ctx: TargetContext,
    passwords: string[],
    context: string,
    fn: (conn: RedisConn, p: Persistence) => Promise<T>,
  ): Promise<T> => {
    try {
      return await control(
        passwords,
        async (conn) => fn(conn, await resolvePersistence(conn, ep, secret.persist)),
        ctx,
        { nopass: context === 'finish' },
      );
    } catch (err) {
      throw controlError(err, context);
    }
  };
  /** The revert reached Redis but not its files, which may still hold the discarded password. */
  const unsavedRevert = (err: unknown, p: Persistence): RekeyError => {
    const file = (p.mode === 'acl-save' ? p.aclFile : p.configFile) ?? 'its config file';
    const cmd = p.mode === 'acl-save' ? 'ACL SAVE' : 'CONFIG REWRITE';
    const driver = err instanceof Error ? err.cause : undefined;
    const why = driver ? `${cmd}: ${describeDriverError(driver)}` : safeMessage(err);
    return new RekeyError(
      'ERR_NEEDS_ATTENTION',
      `${key}: ${where(ep)} accepts only the old password again, but the revert could not be saved (${why}): ${file} may still hold the new password, which would work again after a Redis restart; make ${file} writable for Redis, then run \`rekey recover\` (until then, do not restart Redis)`,
      {
        cause: err,
        hint: `Make ${file} writable for Redis (not a read-only mount, not replaced by a directory, disk not full), then run \`rekey recover\`: it saves the revert. Do not restart Redis before that.`,
        state: `old value live (Redis accepts only it); ${file} may still hold the new one (not saved): run \`rekey recover\` once it is writable`,
      },
    );
  };
  const mustHold = (user: AclUser, hash: string, present: boolean, what: string) => {
    if (user.passwords.includes(hash) !== present) {
      throw new RekeyError(
        'ERR_TARGET_REJECTED',
        `${key}: ${where(ep)}: ACL GETUSER ${ep.user} ${present ? 'does not list' : 'still lists'} ${what}`,
      );
    }
  };

  /**
   * finish on one connection: retire the old password, then persist (clearing requirepass, which
   * `opened` notes: from then on a failure may have left the user nopass).
   */
  const finishOn = (
    ctx: TargetContext,
    passwords: string[],
    drop: string,
    keep: string,
    opened: { maybe: boolean },
  ) =>
    session(ctx, passwords, 'finish', async (conn, p) => {
      if (p.problem) throw new RekeyError('ERR_TARGET_REJECTED', `${key}: ${p.problem}`);
      let user = await getUser(conn, ep);
      // A finish cut short while clearing requirepass (killed, timed out) may have left the user open:
      // close it with the new password (adding a password clears nopass) before anything else.
      if (user.flags.includes('nopass')) user = await setUser(conn, ep, [`#${keep}`]);
      if (!user.passwords.includes(keep)) {
        throw new RekeyError(
          'ERR_TARGET_REJECTED',
          `${key}: ${where(ep)} does not hold the new password (restarted since stage?); the old one was kept`,
          {
            hint: 'Run `rekey recover`; if Redis was restarted, check it starts with the password in the env file.',
          },
        );
      }
      if (ctx.trigger === 'compromise') {
        await evictOn(ctx, conn, user, keep);
      } else {
        if (drop !== keep && user.passwords.includes(drop)) user = await setUser(conn, ep, [`!${drop}`]);
        if (drop !== keep) mustHold(user, drop, false, 'the old password');
      }
      opened.maybe = p.mode === 'rewrite' && ep.user === 'default';
      await persist(conn, ep, p, { final: true });
      await rememberUsers(ctx, conn);
    });

  /**
   * After a finish: the list of ACL users and their password counts for `checkFootholds` (see
   * footholds.ts). Counts never grow past what preflight (or the previous list) saw. Best effort.
   */
  const rememberUsers = async (ctx: TargetContext, conn: RedisConn) => {
    const file = knownUsersFile(_env.stateDir, key);
    if (!file) return;
    try {
      let before = preflightAcl ? counts(preflightAcl) : undefined;
      if (!before)
        before = await readKnownUsers(file).then(
          (k) => k?.users,
          () => undefined,
        );
      await writeKnownUsers(file, knownAfterFinish(await aclSnapshot(conn), before, ep.user));
    } catch (err) {
      ctx.log.warn(`${key}: the list of ACL users could not be saved: ${safeMessage(err)}`);
    }
  };

  /**
   * Compromise (see evict.ts): the user keeps only `keep`, and every connection of the user but this
   * one is closed, in one MULTI (an attacker's open connection cannot re-add a password in between);
   * then other users' passwords unknown at preflight are reported, or removed with `evictUnknown`.
   */
  const evictOn = async (ctx: TargetContext, conn: RedisConn, user: AclUser, keep: string) => {
    const service = serviceOf(ep);
    findings.length = 0;
    const extra = user.passwords.filter((h) => h !== keep).length;
    const [, killed] = await conn.transaction([
      ['ACL', 'SETUSER', ep.user, 'resetpass', `#${keep}`],
      ['CLIENT', 'KILL', 'USER', ep.user, 'SKIPME', 'yes'],
    ]);
    const after = await getUser(conn, ep);
    if (after.passwords.length !== 1 || after.passwords[0] !== keep || after.flags.includes('nopass')) {
      throw new RekeyError(
        'ERR_TARGET_REJECTED',
        `${key}: ${where(ep)}: after resetpass, ACL GETUSER ${ep.user} does not list exactly the new password`,
      );
    }
    findings.push({
      service,
      foothold: 'passwords',
      status: extra > 0 ? 'removed' : 'clean',
      text:
        extra > 0
          ? `user ${ep.user}: ${extra} password${extra === 1 ? '' : 's'} besides the new one removed (the old one${extra > 1 ? ` and ${extra - 1} unknown` : ''}); only the new one is left`
          : `user ${ep.user}: only the new password (nothing else to remove)`,
    });
    const n = Number(killed);
    findings.push({
      service,
      foothold: 'connections',
      status: n > 0 ? 'removed' : 'clean',
      text: `${n} connection${n === 1 ? '' : 's'} of user ${ep.user} opened before the old passwords were removed: closed (${adminCfg ? `rekey works as admin user ${adminCfg.user}` : "rekey's own kept"}; the app reconnects with the new password)`,
    });
    const now = await aclSnapshot(conn);
    const unknown = unknownPasswords(preflightAcl, now, ep.user);
    if (!unknown) {
      // Finish in another process than preflight (recover): compare with the last finish's list.
      const file = knownUsersFile(_env.stateDir, key);
      const listed = file ? await readKnownUsers(file).catch(() => undefined) : undefined;
      if (!listed) {
        findings.push({
          service,
          foothold: 'users',
          status: 'unchecked',
          text: `other ACL users not checked for new passwords: ${preflightProblem}, and no list of ACL users from a previous rotation`,
        });
        return;
      }
      const gained = [...now]
        .filter(([name, hashes]) => name !== ep.user && hashes.length > (listed.users[name] ?? 0))
        .map(([name, hashes]) => `${name} (${hashes.length - (listed.users[name] ?? 0)})`);
      findings.push({
        service,
        foothold: 'users',
        status: gained.length === 0 ? 'clean' : 'reported',
        text:
          gained.length === 0
            ? `no other ACL user holds more passwords than at the last rotation (${preflightProblem}: compared with the last rotation's list)`
            : `ACL users holding more passwords than at the last rotation (how many): ${gained.join(', ')}; left in place: ${preflightProblem}, so which ones are new cannot be told (review them)`,
      });
      if (gained.length > 0) {
        ctx.log.warn(
          `${key}: ACL users holding passwords added since the last rotation: ${gained.join(', ')}`,
        );
      }
      return;
    }
    if (unknown.size === 0) {
      findings.push({
        service,
        foothold: 'users',
        status: 'clean',
        text: 'no other ACL user holds a password it did not have at preflight',
      });
      return;
    }
    for (const [name, hashes] of unknown) {
      if (evictUnknown) {
        await conn.transaction([
          ['ACL', 'SETUSER', name, ...hashes.map((h) => `!${h}`)],
          ['CLIENT', 'KILL', 'USER', name, 'SKIPME', 'yes'],
        ]);
      }
      findings.push({
        service,
        foothold: 'users',
        status: evictUnknown ? 'removed' : 'reported',
        text: evictUnknown
          ? `user ${name}: ${hashes.length} password${hashes.length === 1 ? '' : 's'} not present at preflight removed, its connections closed (sessions.redis.evictUnknown)`
          : `user ${name} holds ${hashes.length} password${hashes.length === 1 ? '' : 's'} not present at preflight: left in place (set sessions.redis.evictUnknown: true to remove them)`,
      });
    }
    if (!evictUnknown) {
      ctx.log.warn(
        `${key}: ACL users holding passwords added since preflight: ${[...unknown.keys()].join(', ')}`,
      );
    }
  };

  /**
   * On a new connection: a user left `nopass` gets the new password back. 'ok' (was not open),
   * 'closed' (was open, now holds the new password), 'open' (still open), 'unknown' (could not tell).
   */
  const closeIfOpen = async (
    ctx: TargetContext,
    passwords: string[],
    keep: string,
  ): Promise<'ok' | 'closed' | 'open' | 'unknown'> => {
    try {
      return await control(
        passwords,
        async (conn) => {
          const user = await getUser(conn, ep);
          if (!user.flags.includes('nopass')) return 'ok';
          const after = await setUser(conn, ep, [`#${keep}`]);
          return !after.flags.includes('nopass') && after.passwords.includes(keep) ? 'closed' : 'open';
        },
        // Not cut short by an interruption: this only makes things safe.
        { ...(ctx.rotating ? { rotating: ctx.rotating } : {}) },
        { nopass: true },
      );
    } catch {
      return 'unknown';
    }
  };

  return {
    key,
    type: secret.type,
    keys: ownedKeys(secret).written,
    // The admin password is secret but not owned: rekey reads it and never writes it.
    secretKeys: ownedKeys(secret).secret,

    describe(trigger: Trigger): TargetDescription {
      const persistText =
        secret.persist === 'auto'
          ? 'CONFIG REWRITE or ACL SAVE, as detected (see plan)'
          : secret.persist === 'none'
            ? 'not persisted (persist: none)'
            : secret.persist === 'rewrite'
              ? 'CONFIG REWRITE'
              : 'ACL SAVE';
      return {
        fileOnly: false,
        overlap: true,
        retiresOld: true,
        actions: [
          `ACL SETUSER ${ep.user} #<sha256 of the new password> on ${where(ep)}: old and new both valid (only hashes are sent)`,
          ...(adminCfg
            ? [
                `ACL changes, persistence and eviction as admin user ${adminCfg.user} (password ${adminCfg.passwordKey}, read, not rotated); ${ep.user}'s other ACL rules untouched`,
              ]
            : []),
          'after the deploy: check Redis still accepts the new password (a restart may have dropped it)',
          trigger === 'compromise'
            ? `finish: ACL SETUSER ${ep.user} resetpass #<sha256 of the new password> (every other password goes), CLIENT KILL USER ${ep.user} (connections opened before); other ACL users' passwords added since preflight ${evictUnknown ? 'removed' : 'reported'}; persist: ${persistText}`
            : `finish: ACL SETUSER ${ep.user} !<sha256 of the old password>; persist: ${persistText}`,
        ],
      };
    },

    async inspect(ctx: TargetContext, cur: Values): Promise<PlanNote[]> {
      return session(ctx, [value(cur, 'current')], 'inspect', async (conn, p) => {
        const notes: PlanNote[] = [describePersistence(p, ep.user)];
        const user = await getUser(conn, ep);
        if (user.flags.includes('nopass')) {
          notes.push({
            level: 'warn',
            trap: 'no-password',
            text: `user ${ep.user} has nopass: any password works; rotation refused`,
          });
        } else if (user.passwords.length > 1) {
          notes.push({
            level: ctx.trigger === 'compromise' ? 'info' : 'warn',
            text:
              ctx.trigger === 'compromise'
                ? `user ${ep.user} has ${user.passwords.length} passwords: the compromise rotation keeps only the new one (resetpass)`
                : `user ${ep.user} has ${user.passwords.length} passwords: rekey adds the new one and removes only the current one (the others stay valid; --trigger compromise removes them)`,
          });
        }
        return notes;
      });
    },

    async checkCurrent(ctx: TargetContext, cur: Values): Promise<void> {
      const p = value(cur, 'current');
      if (adminEp) {
        // The user's own login answers PING; then the admin login must work, before anything changes.
        try {
          await withRedis(ep, p, probe, ctx.signal);
        } catch (err) {
          throw toRekeyError(err, ep, 'current password');
        }
      }
      try {
        await control(
          [p],
          async (conn) => {
            if (!adminEp) await probe(conn);
            try {
              preflightAcl = await aclSnapshot(conn);
            } catch (err) {
              preflightProblem = `ACL LIST at preflight failed (${describeDriverError(err)})`;
            }
            // Catches a missing privilege (ACL needs +@admin) in preflight, before anything changes.
            const user = await getUser(conn, ep);
            if (user.flags.includes('nopass')) {
              throw new RekeyError(
                'ERR_TARGET_REJECTED',
                `${key}: ${where(ep)}: user ${ep.user} has nopass (any password works)`,
                {
                  hint: `Give ${ep.user} a password first (ACL SETUSER ${ep.user} resetpass >…), then rotate.`,
                },
              );
            }
          },
          ctx,
        );
      } catch (err) {
        throw controlError(err, adminEp ? 'preflight' : 'current password');
      }
    },

    generate: () => ({ [key]: generate(spec) }),

    evictions: () => [...findings],

    async checkFootholds(ctx: TargetContext, cur: Values): Promise<readonly EvictionFinding[]> {
      const current = cur[key] ?? '';
      const unchecked = (why: string): EvictionFinding[] =>
        (['passwords', 'users', 'connections'] as const).map((foothold) => ({
          service: serviceOf(ep),
          foothold,
          status: 'unchecked',
          text: `could not check: ${why}`,
        }));
      if (!current) return unchecked(`${key} is missing or empty in the env file`);
      try {
        return await control(
          [current],
          (conn) =>
            lookForFootholds(conn, {
              ep,
              current,
              file: knownUsersFile(_env.stateDir, key),
              asSelf: !adminEp,
            }),
          ctx,
        );
      } catch (err) {
        return unchecked(safeMessage(controlError(err, 'footholds')));
      }
    },

    async stage(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
      const add = aclHash(value(next, 'new'));
      // Before anything changes: neither Redis nor its files know the new password yet.
      if (ctx.facts?.get('disk') === undefined) await ctx.facts?.record({ service: 'old', disk: 'old' });
      await session(ctx, [value(cur, 'current'), value(next, 'new')], 'stage', async (conn, p) => {
        if (p.problem) throw new RekeyError('ERR_TARGET_REJECTED', `${key}: ${p.problem}`);
        let user = await getUser(conn, ep);
        if (!user.passwords.includes(add)) {
          // Saving the unchanged user first proves persistence works (a read-only redis.conf fails
          // here) before Redis learns anything new.
          await persist(conn, ep, p);
          await ctx.facts?.record({ service: 'new' });
          user = await setUser(conn, ep, [`#${add}`]);
        }
        mustHold(user, add, true, 'the new password');
        await ctx.facts?.record({ service: 'new', disk: 'new' });
        await persist(conn, ep, p);
      });
    },

    async test(ctx: TargetContext, next: Values): Promise<void> {
      try {
        await withRedis(ep, value(next, 'new'), probe, ctx.signal);
      } catch (err) {
        throw toRekeyError(err, ep, 'new password, new connection');
      }
    },

    async afterDeploy(ctx: TargetContext, _cur: Values, next: Values): Promise<void> {
      try {
        await withRedis(ep, value(next, 'new'), probe, ctx.signal);
      } catch (err) {
        const e = toRekeyError(err, ep, 'new password, after the deploy');
        if (e.code !== 'ERR_TARGET_AUTH') throw e;
        throw new RekeyError(
          'ERR_TARGET_AUTH',
          `${key}: ${where(ep)} no longer accepts the new password after the deploy (restarted without it?)`,
          {
            cause: err,
            hint: `If the deploy restarts Redis, have it pass the new ${key} from the env file to Redis, or give Redis a config file or aclfile so rekey can persist the change.`,
          },
        );
      }
    },

    async verify(
      ctx: TargetContext,
      next: Values,
      previous?: Values,
      retired?: boolean,
    ): Promise<CheckResult[]> {
      const rows: CheckResult[] = [await authRow(ep, next[key] ?? '', ctx.signal)];
      const old = previous?.[key];
      if (retired && old && old !== next[key]) rows.push(await oldPasswordRow(ep, old, ctx.signal));
      return rows;
    },

    async finish(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
      const oldPw = value(cur, 'current');
      const newPw = value(next, 'new');
      const [drop, keep] = [aclHash(oldPw), aclHash(newPw)];
      const opened = { maybe: false };
      try {
        await finishOn(ctx, [newPw, oldPw], drop, keep, opened);
      } catch (err) {
        if (!opened.maybe) throw err;
        // Clearing requirepass opens the user (nopass) until the same MULTI restores its hashes: a
        // failure or a timeout there must never leave it open. Check on a new connection.
        const closed = await closeIfOpen(ctx, [newPw, oldPw], keep);
        if (closed === 'open' || closed === 'unknown') {
          throw new RekeyError(
            'ERR_NEEDS_ATTENTION',
            `${safeMessage(err)}; and ${where(ep)} ${closed === 'open' ? 'still shows' : 'could not be checked for'} nopass on user ${ep.user} (nopass lets in any client, without a password)`,
            {
              cause: err,
              hint: `At once: ACL SETUSER ${ep.user} >… with the new ${key} from the env file (or stop Redis from being reached), then run \`rekey recover\`.`,
            },
          );
        }
        if (closed === 'closed' && err instanceof RekeyError) {
          throw new RekeyError(
            err.code,
            `${err.message} (user ${ep.user} was left with nopass: its new password was put back)`,
            {
              cause: err,
              hint: err.hint,
            },
          );
        }
        throw err;
      }
    },

    async revert(ctx: TargetContext, cur: Values, next: Values): Promise<void> {
      const oldPw = value(cur, 'current');
      const newPw = next[key] ?? '';
      const [keep, drop] = [aclHash(oldPw), newPw ? aclHash(newPw) : ''];
      await session(ctx, [oldPw, newPw], 'revert', async (conn, p) => {
        let user = await getUser(conn, ep);
        // One command, old added before new removed: the user always has a working password.
        const rules = [
          ...(user.passwords.includes(keep) ? [] : [`#${keep}`]),
          ...(drop && drop !== keep && user.passwords.includes(drop) ? [`!${drop}`] : []),
        ];
        user = await setUser(conn, ep, rules);
        mustHold(user, keep, true, 'the old password');
        if (drop && drop !== keep) mustHold(user, drop, false, 'the new password');
        await ctx.facts?.record({ service: 'old' });
        try {
          await persist(conn, ep, p);
        } catch (err) {
          // The journal says whether the disk may hold the new password (stage got as far as saving
          // it): then it must be saved over, however often this runs, or a restart brings the
          // discarded password back. Otherwise (stage failed its save check before changing
          // anything) there is nothing on disk to undo. Journals of older versions: changed now.
          const disk = ctx.facts?.get('disk');
          if (disk === undefined ? rules.length > 0 : disk !== 'old') throw unsavedRevert(err, p);
          ctx.log.warn(`${key}: the revert could not be saved: ${(err as Error).message}`);
          return;
        }
        await ctx.facts?.record({ disk: 'old' });
      });
    },
  };
}
