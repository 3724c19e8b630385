/**
 * Issue 17: the admin's logins are shared by the targets on one server. Preflight checks the admin
 * login once per server (not once per role), and the stages of the roles set their passwords on a
 * few pooled admin connections (no login per role), closed when the phase ends. Real PostgreSQL
 * with `log_connections`: the server's own log counts the admin's logins. Fails on the code before
 * (one admin check per target; two admin-side logins per stage: a check and the change).
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole, superuserConfig } from '../../../demo/stack/postgres-roles.js';
import { closeShared, type SharedMemo } from '../../../src/engine/ports.js';
import { isRekeyError } from '../../../src/lib/errors.js';
import { postgresTarget, scramVerifier } from '../../../src/targets/postgres/index.js';
import type { Target } from '../../../src/targets/types.js';
import { usePostgres } from '../../helpers/services.js';
import { Canaries, ctxOf, pgSecret } from './helpers.js';

const ROLES = 6;
const ADMIN = 'sa_admin';
const keyOf = (i: number) => `PG_S${i}_PASSWORD`;

describe('postgres: one admin login per server for the checks, pooled admin connections for the stages', () => {
  const server = usePostgres({ settings: { log_connections: 'on' } });
  const canaries = new Canaries();
  const passwords: string[] = [];
  let adminPassword = '';

  beforeAll(async () => {
    adminPassword = canaries.next();
    await asSuperuser(server(), (c) =>
      c.query(
        `CREATE ROLE ${ADMIN} LOGIN SUPERUSER PASSWORD ${pg.escapeLiteral(scramVerifier(adminPassword))}`,
      ),
    );
    for (let i = 1; i <= ROLES; i++) {
      passwords[i] = canaries.next();
      await createLoginRole(server(), { name: `sa_r${i}`, password: passwords[i] ?? '' });
    }
  });

  const target = (i: number, user = `sa_r${i}`): Target =>
    postgresTarget(
      pgSecret(server(), {
        key: keyOf(i),
        user,
        database: 'postgres',
        admin: { user: ADMIN, passwordKey: 'PG_ADMIN' },
      }),
      { env: new Map([['PG_ADMIN', adminPassword]]), configDir: '/' },
    );
  const cur = (i: number) => ({ [keyOf(i)]: passwords[i] ?? '' });
  const all = Array.from({ length: ROLES }, (_, i) => i + 1);

  /** The admin's logins the server has logged so far. */
  const adminLogins = async () =>
    (await readFile(server().logFile, 'utf8')).split('\n').filter((l) => l.includes(`user=${ADMIN} `)).length;
  /** rekey's connections open on the server now. */
  const open = () =>
    asSuperuser(server(), async (c) =>
      Number(
        (
          await c.query<{ n: string }>(
            "SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'rekey'",
          )
        ).rows[0]?.n,
      ),
    );

  it('preflight: the admin login is checked once for all the roles of the server', async () => {
    const before = await adminLogins();
    const shared: SharedMemo = new Map();
    await Promise.all(all.map((i) => target(i).checkCurrent({ ...ctxOf(), shared }, cur(i))));
    await closeShared(shared);
    expect((await adminLogins()) - before).toBe(1);
  });

  it('a wrong admin password still fails every target, each naming its own key', async () => {
    const shared: SharedMemo = new Map();
    const wrong = (i: number) =>
      postgresTarget(
        pgSecret(server(), {
          key: keyOf(i),
          user: `sa_r${i}`,
          database: 'postgres',
          admin: { user: ADMIN, passwordKey: 'PG_ADMIN' },
        }),
        { env: new Map([['PG_ADMIN', 'not-the-admin-password']]), configDir: '/' },
      );
    const results = await Promise.allSettled(
      all.map((i) => wrong(i).checkCurrent({ ...ctxOf(), shared }, cur(i))),
    );
    await closeShared(shared);
    results.forEach((r, n) => {
      expect(r.status).toBe('rejected');
      const err = (r as PromiseRejectedResult).reason;
      expect(isRekeyError(err, 'ERR_TARGET_AUTH')).toBe(true);
      expect(String(err.message)).toContain(keyOf(n + 1));
    });
  });

  it('stage: the roles get their passwords on pooled admin connections, closed with the phase', async () => {
    const shared: SharedMemo = new Map();
    const ctx = { ...ctxOf(), shared };
    const before = await adminLogins();
    const next = all.map(() => canaries.next());
    // One after another: every stage after the first finds an idle admin connection in the pool.
    for (const i of all) await target(i).stage(ctx, cur(i), { [keyOf(i)]: next[i - 1] ?? '' });
    expect((await adminLogins()) - before).toBe(1);
    expect(await open()).toBe(1);
    await closeShared(shared);
    await expect.poll(open).toBe(0);
    // The new passwords work; the old ones do not.
    for (const i of all) {
      const t = target(i);
      await t.test(ctxOf(), { [keyOf(i)]: next[i - 1] ?? '' });
      await expect(t.test(ctxOf(), cur(i))).rejects.toThrow(/password authentication failed/);
      passwords[i] = next[i - 1] ?? '';
    }
  });

  it('a stage that fails on a pooled connection does not spoil the pool for the next one', async () => {
    const shared: SharedMemo = new Map();
    const ctx = { ...ctxOf(), shared };
    const missing = target(1, 'sa_nobody');
    await expect(missing.stage(ctx, { [keyOf(1)]: 'x' }, { [keyOf(1)]: canaries.next() })).rejects.toThrow(
      /does not exist/,
    );
    const next = canaries.next();
    await target(2).stage(ctx, cur(2), { [keyOf(2)]: next });
    await closeShared(shared);
    await target(2).test(ctxOf(), { [keyOf(2)]: next });
    passwords[2] = next;
    await expect.poll(open).toBe(0);
  });

  it('a rerun of the stage of a role that is its own admin finds its new password set, and succeeds', async () => {
    // The admin password is read from the env file, which still holds the old one until the commit.
    const old = canaries.next();
    await createLoginRole(server(), { name: 'sa_self', password: old });
    const self = postgresTarget(
      pgSecret(server(), {
        key: 'PG_SELF',
        user: 'sa_self',
        database: 'postgres',
        admin: { user: 'sa_self', passwordKey: 'PG_SELF' },
      }),
      { env: new Map([['PG_SELF', old]]), configDir: '/' },
    );
    const next = { PG_SELF: canaries.next() };
    const shared: SharedMemo = new Map();
    await self.stage({ ...ctxOf(), shared }, { PG_SELF: old }, next);
    await closeShared(shared);
    await self.stage({ ...ctxOf(), shared }, { PG_SELF: old }, next); // the rerun (recover)
    await closeShared(shared);
    await self.test(ctxOf(), next);
  });

  it('interrupted (Ctrl-C) while a pooled ALTER ROLE waits: ERR_INTERRUPTED at once, nothing changed, connection gone', async () => {
    const shared: SharedMemo = new Map();
    const control = new AbortController();
    const ctx = { ...ctxOf(), shared, signal: control.signal };
    // Every ALTER ROLE needs ROW EXCLUSIVE on pg_authid: a SHARE lock holds it (logins still work).
    const locker = new pg.Client(superuserConfig(server()));
    locker.on('error', () => {});
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE pg_authid IN SHARE MODE');
      const next = { [keyOf(3)]: canaries.next() };
      const stage = target(3)
        .stage(ctx, cur(3), next)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      // Read on connections of their own: inside the locker's transaction, pg_stat_activity is a snapshot.
      const waiting = () =>
        asSuperuser(server(), async (c) =>
          Number(
            (
              await c.query<{ n: string }>(
                "SELECT count(*)::text AS n FROM pg_stat_activity WHERE application_name = 'rekey' AND wait_event_type = 'Lock'",
              )
            ).rows[0]?.n,
          ),
        );
      await expect.poll(waiting, { timeout: 10_000 }).toBe(1);
      const asked = Date.now();
      control.abort();
      const err = await stage;
      expect(isRekeyError(err, 'ERR_INTERRUPTED'), String(err)).toBe(true);
      expect(Date.now() - asked).toBeLessThan(2_000);
      await locker.query('COMMIT');
      // The transaction never got its COMMIT: the role keeps its password.
      await closeShared(shared);
      await expect.poll(open, { timeout: 10_000 }).toBe(0);
      await target(3).test(ctxOf(), cur(3));
      await expect(target(3).test(ctxOf(), next)).rejects.toThrow(/password authentication failed/);
    } finally {
      await locker.end().catch(() => {});
    }
  });

  it('no password reaches the server log', async () => {
    const log = await readFile(server().logFile, 'utf8');
    expect(canaries.foundIn(log)).toEqual([]);
  });
});
