/**
 * The PostgreSQL target, `strategy: single`, against a real throwaway server with every statement
 * logged: the new password works on new connections and the old one is rejected, open connections
 * survive, every operation is idempotent, VALID UNTIL is handled as the privileges allow, and no
 * password ever reaches the server's log or pg_stat_statements.
 */
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../demo/stack/ports.js';
import type { PostgresServer } from '../../../demo/stack/postgres.js';
import { asSuperuser, createLoginRole } from '../../../demo/stack/postgres-roles.js';
import type { SecretConfigOf } from '../../../src/config/schema.js';
import { postgresTarget, scramVerifier } from '../../../src/targets/postgres/index.js';
import type { Target, Values } from '../../../src/targets/types.js';
import { usePostgres } from '../../helpers/services.js';
import {
  alive,
  attempt,
  Canaries,
  ctxOf,
  enableStatStatements,
  openSession,
  pgSecret,
  recordingLogger,
  roleRow,
  statStatements,
  useLoggedPostgres,
} from './helpers.js';

const KEY = 'POSTGRES_PASSWORD';
const DB = 'bi';
const ctx = ctxOf();
const V = (password: string): Values => ({ [KEY]: password });

describe('postgres target, strategy single', () => {
  const server = useLoggedPostgres();
  const canaries = new Canaries();

  /** A login role with a fresh password (a canary), optionally with extra attributes. */
  const role = async (name: string, attributes = ''): Promise<string> => {
    const password = canaries.next();
    await asSuperuser(server(), (c) =>
      c.query(
        `CREATE ROLE ${pg.escapeIdentifier(name)} LOGIN ${attributes} PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`,
      ),
    );
    return password;
  };
  const target = (
    user: string,
    fields: Partial<SecretConfigOf<'postgres'>> = {},
    env = new Map<string, string>(),
  ) =>
    postgresTarget(pgSecret(server(), { key: KEY, user, database: DB, ...fields }), { env, configDir: '/' });
  const next = (t: Target, cur: Values): Values => {
    const values = t.generate(ctx, cur);
    canaries.add(values[KEY] ?? '');
    return values;
  };
  const login = (user: string, password: string) => attempt(server(), user, password, DB);

  beforeAll(async () => {
    await enableStatStatements(server());
    await createLoginRole(server(), { name: 'app', password: canaries.next(), database: DB });
  });

  it('describes itself: one owned key, no overlap, the old password retired', () => {
    const t = target('app');
    expect(t.keys).toEqual([KEY]);
    expect(t.secretKeys).toEqual([KEY]);
    expect(t.type).toBe('postgres');
    expect(t.describe('scheduled')).toMatchObject({ fileOnly: false, overlap: false, retiresOld: true });
    expect(t.afterDeploy).toBeTypeOf('function');
  });

  it('generates a 32-character alphanumeric password, new every time', () => {
    const t = target('app');
    const a = next(t, V('x'))[KEY];
    const b = next(t, V('x'))[KEY];
    expect(a).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(b).not.toBe(a);
  });

  it('checkCurrent accepts the current password; a wrong one is ERR_TARGET_AUTH without the value', async () => {
    const old = await role('check_me');
    const t = target('check_me');
    await expect(t.checkCurrent(ctx, V(old))).resolves.toBeUndefined();
    const wrong = canaries.next();
    const err = await t.checkCurrent(ctx, V(wrong)).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_TARGET_AUTH' });
    expect((err as Error).message).toContain('28P01');
    expect((err as Error).message).not.toContain(wrong);
    await expect(t.checkCurrent(ctx, V(''))).rejects.toMatchObject({ code: 'ERR_ENVFILE_MISSING_KEY' });
  });

  it('stage: the new password works on a new connection, the old is rejected (28P01), an open connection survives', async () => {
    const old = await role('r_stage');
    const t = target('r_stage');
    const open = await openSession(server(), 'r_stage', old, DB);
    try {
      const n = next(t, V(old));
      await t.stage(ctx, V(old), n);
      expect(await login('r_stage', n[KEY]!)).toBe('ok');
      expect(await login('r_stage', old)).toBe('28P01');
      expect(await alive(open)).toBe('ok');
      await expect(t.test(ctx, n)).resolves.toBeUndefined();
      await expect(t.test(ctx, V(old))).rejects.toMatchObject({ code: 'ERR_TARGET_AUTH' });

      // Idempotent: a second stage finds the new password already in place.
      await t.stage(ctx, V(old), n);
      expect(await login('r_stage', n[KEY]!)).toBe('ok');
      expect(await login('r_stage', old)).toBe('28P01');
    } finally {
      await open.end();
    }
  });

  it('sends a SCRAM-SHA-256 verifier: the statement log shows ALTER ROLE with the verifier, not the password', async () => {
    const old = await role('r_verifier');
    const t = target('r_verifier');
    const n = next(t, V(old));
    await t.stage(ctx, V(old), n);
    const log = await server().readLog();
    expect(log).toMatch(
      /ALTER ROLE "r_verifier" PASSWORD 'SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}'/,
    );
    expect(canaries.foundIn(log)).toEqual([]);
  });

  it('verify: DB Access returns 1 row; DB old password is rejected once retired', async () => {
    const old = await role('r_verify');
    const t = target('r_verify');
    const n = next(t, V(old));
    const before = await t.verify(ctx, n, V(old), true);
    expect(before.map((r) => [r.name, r.ok])).toEqual([
      ['DB Access', false],
      ['DB old password', false],
    ]);
    await t.stage(ctx, V(old), n);
    const rows = await t.verify(ctx, n, V(old), true);
    expect(rows.map((r) => [r.name, r.ok, r.detail, r.expected])).toEqual([
      ['DB Access', true, '1 row as r_verify', '1 row'],
      ['DB old password', true, 'old password of r_verify rejected (28P01)', 'rejected'],
    ]);
    expect((await t.verify(ctx, n, V(old), false)).map((r) => r.name)).toEqual(['DB Access']);
    expect((await t.verify(ctx, n)).map((r) => [r.name, r.ok])).toEqual([['DB Access', true]]);
  });

  it('finish leaves the new password in place (nothing left to retire)', async () => {
    const old = await role('r_finish');
    const t = target('r_finish');
    const n = next(t, V(old));
    await t.stage(ctx, V(old), n);
    await t.finish(ctx, V(old), n);
    await t.finish(ctx, V(old), n);
    expect(await login('r_finish', n[KEY]!)).toBe('ok');
    expect(await login('r_finish', old)).toBe('28P01');
  });

  it('revert after stage: the old password works again, the new is rejected; twice is fine', async () => {
    const old = await role('r_revert');
    const t = target('r_revert');
    const n = next(t, V(old));
    await t.stage(ctx, V(old), n);
    await t.revert(ctx, V(old), n);
    expect(await login('r_revert', old)).toBe('ok');
    expect(await login('r_revert', n[KEY]!)).toBe('28P01');
    await t.revert(ctx, V(old), n);
    expect(await login('r_revert', old)).toBe('ok');
    expect(await login('r_revert', n[KEY]!)).toBe('28P01');
  });

  it('revert when stage never ran changes nothing (no ALTER ROLE sent)', async () => {
    const old = await role('r_unstaged');
    const t = target('r_unstaged');
    const n = next(t, V(old));
    await t.revert(ctx, V(old), n);
    expect(await login('r_unstaged', old)).toBe('ok');
    expect(await login('r_unstaged', n[KEY]!)).toBe('28P01');
    expect(await server().readLog()).not.toContain('ALTER ROLE "r_unstaged"');
  });

  it('stage without admin logs in once (its current password changes it; no check login first, no separate clock read)', async () => {
    const old = await role('r_logins');
    const t = target('r_logins');
    // The sessions the server counted in bi (a rejected login is counted as fatal, if at all).
    const attempts = async () => {
      // A backend reports its session when it exits, just after the client closed it.
      await new Promise((r) => setTimeout(r, 1000));
      return asSuperuser(server(), async (c) => {
        const r = await c.query<{ n: string }>(
          "SELECT sessions + sessions_fatal AS n FROM pg_stat_database WHERE datname = 'bi'",
        );
        return Number(r.rows[0]?.n ?? 0);
      });
    };
    const n = next(t, V(old));
    const before = await attempts();
    await t.stage(ctx, V(old), n);
    const logins = (await attempts()) - before;
    expect(await login('r_logins', n[KEY]!)).toBe('ok');
    expect(logins, 'logins to bi during one stage').toBe(1);
  });

  it('stage with neither password accepted is ERR_TARGET_AUTH and changes nothing', async () => {
    const real = await role('r_drift');
    const t = target('r_drift');
    const stale = canaries.next();
    const n = next(t, V(stale));
    await expect(t.stage(ctx, V(stale), n)).rejects.toMatchObject({
      code: 'ERR_TARGET_AUTH',
      message: 'POSTGRES_PASSWORD: role r_drift accepts neither the new nor the current password',
    });
    expect(await login('r_drift', real)).toBe('ok');
  });

  describe('VALID UNTIL', () => {
    it('is kept when the role may not change it: a warning in inspect and during stage', async () => {
      const old = await role('r_expiring', "VALID UNTIL '2100-01-01 00:00:00+00'");
      const t = target('r_expiring');
      const notes = await t.inspect(ctx, V(old));
      expect(notes).toContainEqual({
        level: 'warn',
        text: 'role r_expiring has VALID UNTIL 2100-01-01 00:00:00+00 and r_expiring may not change it to infinity (needs superuser, or CREATEROLE with ADMIN OPTION on r_expiring; configure `admin`): the new password keeps that expiry',
      });
      const log = recordingLogger();
      const n = next(t, V(old));
      await t.stage(ctxOf('scheduled', log), V(old), n);
      expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.text)).toEqual([
        expect.stringMatching(/^POSTGRES_PASSWORD: role r_expiring has VALID UNTIL 2100-01-01/),
      ]);
      expect(await login('r_expiring', n[KEY]!)).toBe('ok');
      expect((await roleRow(server(), 'r_expiring'))?.valid_until).toBe('2100-01-01 00:00:00+00');
    });

    it('is reset to infinity when the role has CREATEROLE', async () => {
      const old = await role('r_expiring_cr', "CREATEROLE VALID UNTIL '2100-01-01 00:00:00+00'");
      const t = target('r_expiring_cr');
      expect(await t.inspect(ctx, V(old))).toContainEqual({
        level: 'info',
        text: 'role r_expiring_cr: VALID UNTIL 2100-01-01 00:00:00+00 will be set to infinity with the new password',
      });
      const n = next(t, V(old));
      await t.stage(ctx, V(old), n);
      expect((await roleRow(server(), 'r_expiring_cr'))?.valid_until).toBe('infinity');
      expect(await login('r_expiring_cr', n[KEY]!)).toBe('ok');
    });

    it('is reset through a superuser admin, whose change does not reach the statement log at all', async () => {
      const old = await role('r_expiring_adm', "VALID UNTIL '2100-01-01 00:00:00+00'");
      const env = new Map([['PG_ADMIN_PASSWORD', canaries.add(server().superuserPassword)]]);
      const t = target(
        'r_expiring_adm',
        { admin: { user: 'postgres', passwordKey: 'PG_ADMIN_PASSWORD' } },
        env,
      );
      expect(t.secretKeys).toEqual([KEY, 'PG_ADMIN_PASSWORD']);
      expect(t.keys).toEqual([KEY]);
      const notes = await t.inspect(ctx, V(old));
      expect(notes).toContainEqual({
        level: 'info',
        text: "postgres is a superuser: the change runs with log_statement = 'none'",
      });
      await t.checkCurrent(ctx, V(old));
      const n = next(t, V(old));
      await t.stage(ctx, V(old), n);
      expect((await roleRow(server(), 'r_expiring_adm'))?.valid_until).toBe('infinity');
      expect(await login('r_expiring_adm', n[KEY]!)).toBe('ok');
      expect(await login('r_expiring_adm', old)).toBe('28P01');
      const log = await server().readLog();
      expect(log).toContain("SET LOCAL log_statement = 'none'");
      expect(log).not.toContain('ALTER ROLE "r_expiring_adm"');
      const tracked = (await statStatements(server())).filter((q) => q.includes('r_expiring_adm'));
      expect(tracked.map((q) => q.slice(0, 11))).toEqual(['CREATE ROLE']); // the test's own set-up only

      await t.revert(ctx, V(old), n);
      expect(await login('r_expiring_adm', old)).toBe('ok');
      expect(await login('r_expiring_adm', n[KEY]!)).toBe('28P01');
    });

    it('a configured expiry is set where allowed', async () => {
      const old = await role('r_until', 'CREATEROLE');
      const t = target('r_until', { validUntil: '2099-06-30 00:00:00+00' });
      const n = next(t, V(old));
      await t.stage(ctx, V(old), n);
      expect((await roleRow(server(), 'r_until'))?.valid_until).toBe('2099-06-30 00:00:00+00');
    });
  });

  describe('--trigger compromise', () => {
    it('afterDeploy ends the sessions opened before the change, not later ones nor its own', async () => {
      const old = await role('r_comp');
      const t = target('r_comp');
      const compromise = ctxOf('compromise', recordingLogger());
      expect(t.describe('compromise').actions).toContain(
        'after the deploy: end the sessions of r_comp opened before the change',
      );
      const before = await openSession(server(), 'r_comp', old, DB);
      const n = next(t, V(old));
      await t.stage(compromise, V(old), n);
      const after = await openSession(server(), 'r_comp', n[KEY]!, DB);
      try {
        await t.afterDeploy!(compromise, V(old), n);
        expect(await alive(before)).toBe('57P01');
        expect(await alive(after)).toBe('ok');
        expect((compromise.log as ReturnType<typeof recordingLogger>).lines).toContainEqual({
          level: 'info',
          text: 'POSTGRES_PASSWORD: ended 1 session of role r_comp (opened before the change)',
        });
      } finally {
        await before.end().catch(() => {});
        await after.end();
      }
    });

    it('afterDeploy in a new process (time of the change unknown) ends every session of the role', async () => {
      const old = await role('r_comp2');
      const n = next(target('r_comp2'), V(old));
      await target('r_comp2').stage(ctx, V(old), n);
      const later = await openSession(server(), 'r_comp2', n[KEY]!, DB);
      const log = recordingLogger();
      try {
        await target('r_comp2').afterDeploy!(ctxOf('compromise', log), V(old), n);
        expect(await alive(later)).toBe('57P01');
        expect(log.lines).toContainEqual({
          level: 'info',
          text: 'POSTGRES_PASSWORD: ended 1 session of role r_comp2 (every session but ours: the time of the change is unknown here)',
        });
      } finally {
        await later.end().catch(() => {});
      }
    });

    it('afterDeploy on a scheduled rotation ends nothing', async () => {
      const old = await role('r_sched');
      const t = target('r_sched');
      const open = await openSession(server(), 'r_sched', old, DB);
      try {
        const n = next(t, V(old));
        await t.stage(ctx, V(old), n);
        await t.afterDeploy!(ctx, V(old), n);
        expect(await alive(open)).toBe('ok');
      } finally {
        await open.end();
      }
    });
  });

  it('inspect (plan) names the role, its attributes and the strategy', async () => {
    const old = await role('r_inspect');
    expect(await target('r_inspect').inspect(ctxOf('compromise'), V(old))).toEqual([
      { level: 'info', text: 'role r_inspect: not superuser, no CREATEROLE, LOGIN, no expiry' },
      {
        level: 'info',
        text: 'strategy single: the password of r_inspect is replaced (set as r_inspect); the old one stops working then',
      },
      {
        level: 'info',
        text: 'sent as a SCRAM-SHA-256 verifier (4096 iterations): the password never reaches the server',
      },
      {
        level: 'info',
        text: 'after the deploy: end the sessions of r_inspect opened before the change (0 sessions now)',
      },
    ]);
  });

  it('connects with TLS when offered and falls back to plain with the default sslmode (prefer); require refuses', async () => {
    const old = await role('r_ssl');
    const secret = pgSecret(server(), { key: KEY, user: 'r_ssl', database: DB });
    const { sslmode: _, ...prefer } = secret;
    await expect(
      postgresTarget(prefer, { env: new Map(), configDir: '/' }).checkCurrent(ctx, V(old)),
    ).resolves.toBeUndefined();
    await expect(
      postgresTarget({ ...secret, sslmode: 'require' }, { env: new Map(), configDir: '/' }).checkCurrent(
        ctx,
        V(old),
      ),
    ).rejects.toMatchObject({
      code: 'ERR_TARGET_REJECTED',
      message: expect.stringContaining('does not support SSL'),
    });
  });

  it('refuses alternating-only fields with strategy single', () => {
    expect(() => target('app', { roles: ['a', 'b'] })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });

  it('no password ever reached the statement log or pg_stat_statements', async () => {
    const log = await server().readLog();
    expect(log).toContain('ALTER ROLE'); // statements are logged: the check below means something
    expect(canaries.all.length).toBeGreaterThan(20);
    expect(canaries.foundIn(log)).toEqual([]);
    const statements = await statStatements(server());
    expect(statements.some((q) => q.startsWith('ALTER ROLE'))).toBe(true);
    expect(canaries.foundIn(statements.join('\n'))).toEqual([]);
  });
});

describe('postgres target: unreachable server', () => {
  const server = usePostgres();
  let password = '';
  let stopped: PostgresServer;

  beforeAll(async () => {
    password = 'unreachablePw7Kq2Lm9Xz4Rt6Vb8Nw3';
    await createLoginRole(server(), { name: 'app', password, database: DB });
    stopped = server();
    await stopped.stop();
  });

  it('a stopped server is ERR_TARGET_UNREACHABLE for every operation', async () => {
    const t = postgresTarget(pgSecret(stopped, { key: KEY, user: 'app', database: DB }), {
      env: new Map(),
      configDir: '/',
    });
    const n = t.generate(ctx, V(password));
    await expect(t.checkCurrent(ctx, V(password))).rejects.toMatchObject({
      code: 'ERR_TARGET_UNREACHABLE',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    await expect(t.stage(ctx, V(password), n)).rejects.toMatchObject({ code: 'ERR_TARGET_UNREACHABLE' });
    await expect(t.revert(ctx, V(password), n)).rejects.toMatchObject({ code: 'ERR_TARGET_UNREACHABLE' });
    const rows = await t.verify(ctx, n);
    expect(rows).toMatchObject([
      { name: 'DB Access', ok: false, detail: expect.stringContaining('ECONNREFUSED') },
    ]);
  });

  describe('a server that accepts TCP but never answers', () => {
    let silent: Server;
    let port = 0;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      port = await freePort();
      silent = createServer((socket) => void sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(port, '127.0.0.1', resolve));
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    });

    it('times out after about 5 s: ERR_TARGET_UNREACHABLE', async () => {
      const t = postgresTarget(
        pgSecret({ ...stopped, port } as PostgresServer, { key: KEY, user: 'app', database: DB }),
        {
          env: new Map(),
          configDir: '/',
        },
      );
      const started = Date.now();
      await expect(t.checkCurrent(ctx, V(password))).rejects.toMatchObject({
        code: 'ERR_TARGET_UNREACHABLE',
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
      expect(Date.now() - started).toBeLessThan(8_000);
    });
  });
});
