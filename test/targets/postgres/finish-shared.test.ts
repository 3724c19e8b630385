/**
 * Issue 17: the finishes of one rotation read a server's LOGIN roles once, not once per role (the
 * listing made finish O(N²) at 1000 roles). Real PostgreSQL with pg_stat_statements, which counts
 * the listing query. The read is shared only where it is what the role would have read itself: a
 * role that may read pg_authid (a superuser) reads its own when the shared read was denied it. An
 * attacker's LOGIN role created before the finishes is still named by every one of them. Fails on
 * the code before (one listing per finish).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole } from '../../../demo/stack/postgres-roles.js';
import { postgresTarget } from '../../../src/targets/postgres/index.js';
import type { Target, TargetContext } from '../../../src/targets/types.js';
import { tempDir } from '../../helpers/tmp.js';
import { Canaries, ctxOf, enableStatStatements, pgSecret, useLoggedPostgres } from './helpers.js';

const ROLES = 6;
const keyOf = (i: number) => `PG_R${i}_PASSWORD`;

describe('postgres finish: one LOGIN role listing per server for all the finishes of a rotation', () => {
  const server = useLoggedPostgres();
  const canaries = new Canaries();
  const passwords: string[] = [];
  let stateDir = '';

  beforeAll(async () => {
    stateDir = await tempDir('rekey-pg-finish-shared-');
    await enableStatStatements(server());
    for (let i = 1; i <= ROLES; i++) {
      passwords[i] = canaries.next();
      await createLoginRole(server(), { name: `fs_r${i}`, password: passwords[i] ?? '' });
    }
  });

  /** Role i's target (no admin: it logs in as itself); i = 0 is the superuser's own secret. */
  const target = (i: number): Target =>
    postgresTarget(
      pgSecret(server(), {
        key: i === 0 ? 'PG_SUPER_PASSWORD' : keyOf(i),
        user: i === 0 ? 'postgres' : `fs_r${i}`,
        database: 'postgres',
      }),
      { env: new Map(), configDir: '/', stateDir },
    );
  const valuesOf = (i: number) =>
    i === 0 ? { PG_SUPER_PASSWORD: server().superuserPassword } : { [keyOf(i)]: passwords[i] ?? '' };
  const finish = (i: number, ctx: TargetContext) => target(i).finish(ctx, valuesOf(i), valuesOf(i));

  /** How many times the listing ran since the last reset. */
  const listings = async (): Promise<number> =>
    asSuperuser(server(), async (c) => {
      const { rows } = await c.query<{ calls: string }>(
        "SELECT coalesce(sum(calls), 0)::text AS calls FROM pg_stat_statements WHERE query LIKE '%FROM pg_roles WHERE rolcanlogin%'",
      );
      return Number(rows[0]?.calls ?? 0);
    });
  const reset = () => asSuperuser(server(), (c) => c.query('SELECT pg_stat_statements_reset()'));
  const kept = async (key: string) =>
    JSON.parse(await fs.readFile(path.join(stateDir, `postgres-roles-${key}.json`), 'utf8')) as {
      roles: string[];
      verifiers?: Record<string, string>;
    };
  const all = Array.from({ length: ROLES }, (_, i) => i + 1);

  it('concurrent finishes sharing the rotation memo list the roles once; each keeps its own file', async () => {
    await reset();
    const ctx = { ...ctxOf('scheduled'), shared: new Map<string, unknown>() };
    await Promise.all(all.map((i) => finish(i, ctx)));
    expect(await listings()).toBe(1);
    for (const i of all)
      expect((await kept(keyOf(i))).roles).toEqual(expect.arrayContaining(['fs_r1', `fs_r${i}`]));
  });

  it('without the memo (recover, verify) each finish reads for itself', async () => {
    await reset();
    await Promise.all(all.map((i) => finish(i, ctxOf('scheduled'))));
    expect(await listings()).toBe(ROLES);
  });

  it('a read denied pg_authid is not given to a superuser: it reads its own and shares that', async () => {
    const ctx = { ...ctxOf('scheduled'), shared: new Map<string, unknown>() };
    await reset();
    await finish(1, ctx); // fs_r1 may not read pg_authid
    await finish(0, ctx); // the superuser reads again
    await finish(2, ctx); // takes the superuser's read
    expect(await listings()).toBe(2);
    expect((await kept(keyOf(1))).verifiers).toBeUndefined();
    expect(Object.keys((await kept('PG_SUPER_PASSWORD')).verifiers ?? {})).toContain('fs_r1');
    expect(Object.keys((await kept(keyOf(2))).verifiers ?? {})).toContain('fs_r2');
  });

  it("the attacker's LOGIN role, created before the finishes, is named by every one of them", async () => {
    // Fingerprints first (a rotation's finishes), then the attacker acts, then a compromise rotation.
    await Promise.all(all.map((i) => finish(i, { ...ctxOf('scheduled'), shared: new Map() })));
    await createLoginRole(server(), { name: 'fs_intruder', password: canaries.next() });
    const ctx = { ...ctxOf('compromise'), shared: new Map<string, unknown>() };
    const targets = all.map(target);
    await Promise.all(targets.map((t, n) => t.finish(ctx, valuesOf(n + 1), valuesOf(n + 1))));
    for (const t of targets) {
      const users = t.evictions?.().find((f) => f.foothold === 'users');
      expect(users?.status).toBe('reported');
      expect(users?.text).toContain('fs_intruder');
    }
  });
});
