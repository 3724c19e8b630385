/**
 * The PostgreSQL target, `strategy: alternating`, against a real throwaway server: two login roles
 * take turns, created on first use as members of the application role, the old one working until the
 * next rotation; revert disables the idle role; a compromise ends the old role's sessions and removes
 * its password. The tests run as consecutive rotations of one stack, in order.
 */
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser, createLoginRole } from '../../../demo/stack/postgres-roles.js';
import type { SecretConfigOf } from '../../../src/config/schema.js';
import { postgresTarget, scramVerifier } from '../../../src/targets/postgres/index.js';
import type { Target, TargetContext, Values } from '../../../src/targets/types.js';
import {
  alive,
  attempt,
  Canaries,
  ctxOf,
  enableStatStatements,
  memberships,
  openSession,
  pgSecret,
  recordingLogger,
  roleRow,
  statStatements,
  useLoggedPostgres,
} from './helpers.js';

const KEY = 'POSTGRES_PASSWORD';
const USER_KEY = 'POSTGRES_USER';
const ADMIN_KEY = 'PG_ADMIN_PASSWORD';
const DB = 'bi';
const ctx = ctxOf();

describe('postgres target, strategy alternating', () => {
  const server = useLoggedPostgres();
  const canaries = new Canaries();
  /** What the env file holds between rotations. */
  let env: Values = {};
  let adminEnv = new Map<string, string>();

  const secret = (fields: Partial<SecretConfigOf<'postgres'>> = {}) =>
    pgSecret(server(), {
      key: KEY,
      user: 'app',
      database: DB,
      strategy: 'alternating',
      roles: ['app_blue', 'app_green'],
      userKey: USER_KEY,
      admin: { user: 'postgres', passwordKey: ADMIN_KEY },
      ...fields,
    });
  const target = (fields: Partial<SecretConfigOf<'postgres'>> = {}, e = adminEnv): Target =>
    postgresTarget(secret(fields), { env: e, configDir: '/' });
  const generate = (t: Target, c: TargetContext = ctx): Values => {
    const values = t.generate(c, env);
    canaries.add(values[KEY] ?? '');
    return values;
  };
  const login = (v: Values) => attempt(server(), v[USER_KEY] ?? '', v[KEY] ?? '', DB);
  const rowsOfAppData = async (v: Values): Promise<number> => {
    const c = await openSession(server(), v[USER_KEY] ?? '', v[KEY] ?? '', DB);
    try {
      return (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM app_data')).rows[0]?.n ?? -1;
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    await enableStatStatements(server());
    const appPassword = canaries.next();
    await createLoginRole(server(), { name: 'app', password: appPassword, database: DB });
    const app = await openSession(server(), 'app', appPassword, DB);
    await app.query('CREATE TABLE app_data (id int); INSERT INTO app_data VALUES (1), (2), (3)');
    await app.end();
    adminEnv = new Map([[ADMIN_KEY, canaries.add(server().superuserPassword)]]);
    env = { [USER_KEY]: 'app', [KEY]: appPassword };
  });

  it('owns the user key and the password; overlaps; retires the old role only on compromise', () => {
    const t = target();
    expect(t.keys).toEqual([USER_KEY, KEY]);
    expect(t.secretKeys).toEqual([KEY, ADMIN_KEY]);
    expect(t.describe('scheduled')).toMatchObject({ fileOnly: false, overlap: true, retiresOld: false });
    expect(t.describe('compromise')).toMatchObject({ overlap: true, retiresOld: true });
  });

  it('refuses an incomplete configuration', () => {
    const invalid = expect.objectContaining({ code: 'ERR_CONFIG_INVALID' });
    expect(() => target({ admin: undefined })).toThrow(invalid);
    expect(() => target({ userKey: undefined })).toThrow(invalid);
    expect(() => target({ roles: undefined })).toThrow(invalid);
    expect(() => target({ roles: ['x', 'x'] })).toThrow(invalid);
    expect(() => target({ user: 'app_blue' })).toThrow(
      expect.objectContaining({
        message:
          'secrets.POSTGRES_PASSWORD: `memberOf` is required when `user` is one of `roles` (name the application role)',
      }),
    );
    expect(() => target({ user: 'app_blue', memberOf: 'app' })).not.toThrow();
  });

  it('checkCurrent checks the current role and the admin; a wrong admin password is ERR_TARGET_AUTH', async () => {
    await expect(target().checkCurrent(ctx, env)).resolves.toBeUndefined();
    const wrong = canaries.next();
    await expect(target({}, new Map([[ADMIN_KEY, wrong]])).checkCurrent(ctx, env)).rejects.toMatchObject({
      code: 'ERR_TARGET_AUTH',
      message: expect.stringContaining('as postgres (admin)'),
    });
    await expect(target({}, new Map()).checkCurrent(ctx, env)).rejects.toMatchObject({
      code: 'ERR_ENVFILE_MISSING_KEY',
    });
  });

  it('inspect on first use says which role it will create', async () => {
    expect(await target().inspect(ctx, env)).toEqual([
      {
        level: 'info',
        text: 'strategy alternating: app is active; app_blue gets the new password and POSTGRES_USER switches to it',
      },
      { level: 'info', text: 'will create role app_blue (LOGIN INHERIT IN ROLE app) as postgres' },
      { level: 'info', text: "postgres is a superuser: the change runs with log_statement = 'none'" },
      { level: 'info', text: 'app keeps working until the next rotation' },
    ]);
  });

  it('first rotation: creates app_blue as a member of app; it reads the app role’s table; app keeps working', async () => {
    const t = target();
    const next = generate(t);
    expect(next[USER_KEY]).toBe('app_blue');
    expect(await roleRow(server(), 'app_blue')).toBeUndefined();

    await t.stage(ctx, env, next);
    expect(await memberships(server(), 'app_blue')).toEqual(['app']);
    expect(await roleRow(server(), 'app_blue')).toMatchObject({
      login: true,
      inherit: true,
      has_password: true,
    });
    expect(await login(next)).toBe('ok');
    expect(await rowsOfAppData(next)).toBe(3);
    expect(await login(env)).toBe('ok');

    await t.stage(ctx, env, next); // idempotent
    await t.test(ctx, next);
    expect((await t.verify(ctx, next, env, false)).map((r) => [r.name, r.ok, r.detail])).toEqual([
      ['DB Access', true, '1 row as app_blue'],
    ]);
    await t.finish(ctx, env, next);
    expect(await login(env)).toBe('ok');
    expect(await login(next)).toBe('ok');
    env = next;
  });

  it('second rotation: app_green gets a password and the user key; app_blue keeps working after finish', async () => {
    const t = target();
    const next = generate(t);
    expect(next[USER_KEY]).toBe('app_green');
    await t.stage(ctx, env, next);
    await t.test(ctx, next);
    expect(await login(env)).toBe('ok');
    await t.finish(ctx, env, next);
    expect(await login(env)).toBe('ok');
    expect(await login(next)).toBe('ok');
    expect(await rowsOfAppData(next)).toBe(3);
    expect(await memberships(server(), 'app_green')).toEqual(['app']);
    env = next;
  });

  it('revert removes the idle role’s password (its login stops); twice is fine; the active role keeps working', async () => {
    const t = target();
    const next = generate(t);
    expect(next[USER_KEY]).toBe('app_blue');
    await t.stage(ctx, env, next);
    expect(await login(next)).toBe('ok');
    await t.revert(ctx, env, next);
    expect(await roleRow(server(), 'app_blue')).toMatchObject({ has_password: false });
    expect(await login(next)).toBe('28P01');
    expect(await login(env)).toBe('ok');
    await t.revert(ctx, env, next);
    expect(await login(next)).toBe('28P01');
    expect(await login(env)).toBe('ok');
  });

  it('stage repairs an idle role that lost its membership; test refuses a role without it', async () => {
    await asSuperuser(server(), (c) => c.query('REVOKE app FROM app_blue'));
    const t = target();
    const next = generate(t);
    // Give app_blue a password by hand: test() must still refuse it, since it lacks app's grants.
    await asSuperuser(server(), (c) =>
      c.query(`ALTER ROLE app_blue PASSWORD ${pg.escapeLiteral(scramVerifier(next[KEY] ?? ''))}`),
    );
    await expect(t.test(ctx, next)).rejects.toMatchObject({
      code: 'ERR_TARGET_REJECTED',
      message: 'POSTGRES_PASSWORD: role app_blue does not inherit the privileges of app',
    });
    await t.stage(ctx, env, next);
    expect(await memberships(server(), 'app_blue')).toEqual(['app']);
    await t.test(ctx, next);
    await t.revert(ctx, env, next);
    expect(await login(next)).toBe('28P01');
  });

  it('compromise: afterDeploy ends the old role’s sessions; finish removes its password', async () => {
    const log = recordingLogger();
    const compromise = ctxOf('compromise', log);
    const t = target();
    const next = generate(t, compromise);
    expect(next[USER_KEY]).toBe('app_blue');
    const old = await openSession(server(), env[USER_KEY] ?? '', env[KEY] ?? '', DB);
    await t.stage(compromise, env, next);
    const fresh = await openSession(server(), 'app_blue', next[KEY] ?? '', DB);
    try {
      await t.afterDeploy!(compromise, env, next);
      expect(await alive(old)).toBe('57P01');
      expect(await alive(fresh)).toBe('ok');
      expect(log.lines).toContainEqual({
        level: 'info',
        text: 'POSTGRES_PASSWORD: ended 1 session of role app_green (the retired role)',
      });
      // Until finish (after verify), the old role still logs in.
      expect(await login(env)).toBe('ok');
      await t.finish(compromise, env, next);
      expect(await roleRow(server(), 'app_green')).toMatchObject({ has_password: false });
      expect(await login(env)).toBe('28P01');
      expect(await login(next)).toBe('ok');
      await t.finish(compromise, env, next);
      expect(await login(next)).toBe('ok');
      expect(log.lines.filter((l) => l.level === 'warn')).toEqual([]);
    } finally {
      await old.end().catch(() => {});
      await fresh.end();
    }
    env = next;
  });

  it('compromise with an admin that may not end the sessions: a warning, not a failure', async () => {
    const rotatorPassword = canaries.next();
    await asSuperuser(server(), (c) =>
      c.query(
        `CREATE ROLE rotator LOGIN CREATEROLE PASSWORD ${pg.escapeLiteral(scramVerifier(rotatorPassword))}`,
      ),
    );
    const log = recordingLogger();
    const compromise = ctxOf('compromise', log);
    const t = target(
      { admin: { user: 'rotator', passwordKey: 'ROTATOR_PW' } },
      new Map([['ROTATOR_PW', rotatorPassword]]),
    );
    const notes = await t.inspect(compromise, env);
    expect(notes).toContainEqual({
      level: 'info',
      text: 'compromise: after verify the password of app_blue is removed; its sessions are ended (0 sessions now)',
    });
    const next = generate(t, compromise);
    expect(next[USER_KEY]).toBe('app_green');
    const old = await openSession(server(), env[USER_KEY] ?? '', env[KEY] ?? '', DB);
    try {
      await t.stage(compromise, env, next);
      expect(await login(next)).toBe('ok');
      await expect(t.afterDeploy!(compromise, env, next)).resolves.toBeUndefined();
      expect(await alive(old)).toBe('ok');
      expect(log.lines.filter((l) => l.level === 'warn').map((l) => l.text)).toEqual([
        'POSTGRES_PASSWORD: 1 session of role app_blue could not be ended by rotator (admin) (it needs the privileges of app_blue or pg_signal_backend): end them by hand with pg_terminate_backend',
      ]);
      await t.finish(compromise, env, next);
      expect(await login(env)).toBe('28P01');
      expect(await login(next)).toBe('ok');
    } finally {
      await old.end();
    }
    env = next;
  });

  it('inspect warns about relations owned by a login role instead of the application role', async () => {
    const c = await openSession(server(), env[USER_KEY] ?? '', env[KEY] ?? '', DB);
    await c.query('CREATE TABLE green_owned (id int)');
    await c.end();
    expect(await target().inspect(ctx, env)).toContainEqual({
      level: 'warn',
      trap: 'objects-owned-by-login-role',
      text: '1 relation is owned by app_green, not app: the other login role cannot use it; REASSIGN OWNED BY app_green TO app, and create objects after SET ROLE app',
    });
  });

  it('no password ever reached the statement log or pg_stat_statements', async () => {
    const log = await server().readLog();
    expect(log).toContain('CREATE TABLE app_data'); // statements are logged
    expect(log).toContain('ALTER ROLE "app_green" PASSWORD \'SCRAM-SHA-256$'); // by rotator: not a superuser
    expect(canaries.all.length).toBeGreaterThan(8);
    expect(canaries.foundIn(log)).toEqual([]);
    const statements = await statStatements(server());
    // The superuser admin's changes are not tracked; the non-superuser rotator's are (as verifiers).
    expect(statements.filter((q) => q.startsWith('CREATE ROLE "app_blue"'))).toEqual([]);
    expect(statements.some((q) => q.startsWith('ALTER ROLE "app_green" PASSWORD \'SCRAM-SHA-256$'))).toBe(
      true,
    );
    expect(canaries.foundIn(statements.join('\n'))).toEqual([]);
  });
});
