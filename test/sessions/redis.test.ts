/**
 * Session invalidation against a real throwaway Redis: purge by pattern removes exactly the matching
 * keys of db 0 and nothing else; flushDb empties only its db; flushAll empties everything; the
 * invalidator is chosen and described from the config.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { ParsedConfig } from '../../src/config/schema.js';
import { isRekeyError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/log.js';
import { createSessions, type PurgeProgress } from '../../src/sessions/index.js';
import { redisSessions } from '../../src/sessions/redis.js';
import type { TargetContext } from '../../src/targets/types.js';
import { type RedisClient, useRedis, withRedisClient } from '../helpers/services.js';
import { KEY, secretFor } from '../targets/redis/helpers.js';

const ctx: TargetContext = { trigger: 'scheduled', log: silentLogger };
const PASSWORD = 'sessions-test-pw-0123456789';
const env = new Map([[KEY, PASSWORD]]);

describe('redis sessions', () => {
  const redis = useRedis({ password: PASSWORD });

  const withClient = <T>(fn: (c: RedisClient) => Promise<T>): Promise<T> =>
    withRedisClient(redis(), PASSWORD, fn);

  /** Writes `count` keys named by `name(i)` into `db`, 1000 per MSET. */
  const seed = (db: number, count: number, name: (i: number) => string) =>
    withClient(async (c) => {
      await c.select(db);
      for (let i = 0; i < count; i += 1000) {
        const args: string[] = [];
        for (let j = i; j < Math.min(count, i + 1000); j++) args.push(name(j), `v${j}`);
        await c.sendCommand(['MSET', ...args]);
      }
    });

  const dbsize = (db: number) =>
    withClient(async (c) => {
      await c.select(db);
      return c.dbSize();
    });

  beforeEach(async () => {
    await withClient((c) => c.sendCommand(['FLUSHALL', 'SYNC']));
  });

  it('purges exactly the keys matching the pattern in db 0, and nothing else', async () => {
    await seed(0, 20_000, (i) => `session:${i}`);
    await seed(0, 20_000, (i) => `other:${i}`);
    // Near misses that must survive: no colon, a prefix before, a different case.
    await withClient(async (c) => {
      await c.mSet({ session: 'a', 'xsession:1': 'b', 'Session:1': 'c', 'sessions:1': 'd' });
      await c.sendCommand([
        'SET',
        Buffer.from([0x73, 0x65, 0x73, 0x73, 0x69, 0x6f, 0x6e, 0x3a, 0xff, 0xfe]),
        'bin',
      ]);
    });
    await seed(1, 500, (i) => `session:${i}`); // another db: out of reach of a pattern purge

    const progress: PurgeProgress[] = [];
    const sessions = redisSessions(
      secretFor(redis()),
      { patterns: ['session:*'], batch: 1000 },
      { onProgress: (p) => progress.push(p) },
    );
    const summary = await sessions.invalidate(ctx, env);

    expect(summary).toMatch(/^purged 20001 keys matching session:\* in \d+\.\d s$/);
    expect(await dbsize(0)).toBe(20_004);
    expect(await dbsize(1)).toBe(500);
    await withClient(async (c) => {
      expect(await c.exists(['session:0', 'session:19999', 'session:777'])).toBe(0);
      expect(
        await c.exists(['other:0', 'other:19999', 'session', 'xsession:1', 'Session:1', 'sessions:1']),
      ).toBe(6);
    });
    expect(progress.length).toBeGreaterThan(10);
    expect(progress.at(-1)?.purged).toBe(20_001);
    const counts = progress.map((p) => p.purged);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
  });

  it('purges several patterns with small batches, and a second run finds nothing', async () => {
    await seed(0, 3_000, (i) => `sess:${i}`);
    await seed(0, 2_000, (i) => `csrf:${i}`);
    await seed(0, 1_000, (i) => `keep:${i}`);
    const sessions = redisSessions(secretFor(redis()), { patterns: ['sess:*', 'csrf:*'], batch: 100 });
    expect(await sessions.invalidate(ctx, env)).toMatch(
      /^purged 5000 keys matching sess:\* \(3000\), csrf:\* \(2000\) in/,
    );
    expect(await dbsize(0)).toBe(1_000);
    expect(await sessions.invalidate(ctx, env)).toMatch(/^purged 0 keys/);
  });

  it('flushDb empties only that db', async () => {
    await seed(0, 1_000, (i) => `a:${i}`);
    await seed(2, 2_000, (i) => `session:${i}`);
    await seed(3, 300, (i) => `b:${i}`);
    const sessions = redisSessions(secretFor(redis()), { flushDb: 2, batch: 1000 });
    expect(sessions.describe()).toBe(`FLUSHDB ASYNC of db 2 on redis 127.0.0.1:${redis().port}`);
    expect(await sessions.invalidate(ctx, env)).toMatch(
      /^flushed db 2 of redis .* \(2000 keys, FLUSHDB ASYNC\) in/,
    );
    expect(await dbsize(2)).toBe(0);
    expect(await dbsize(0)).toBe(1_000);
    expect(await dbsize(3)).toBe(300);
  });

  it('flushAll empties every db', async () => {
    await seed(0, 1_000, (i) => `a:${i}`);
    await seed(5, 700, (i) => `b:${i}`);
    const sessions = redisSessions(secretFor(redis()), { flushAll: true, batch: 1000 });
    expect(await sessions.invalidate(ctx, env)).toMatch(/\(1700 keys, FLUSHALL ASYNC\)/);
    expect(await dbsize(0)).toBe(0);
    expect(await dbsize(5)).toBe(0);
  });

  it('connects with the password the env file holds after the commit', async () => {
    await seed(0, 10, (i) => `session:${i}`);
    const sessions = redisSessions(secretFor(redis()), { patterns: ['session:*'], batch: 1000 });
    const err = await sessions.invalidate(ctx, new Map([[KEY, 'not-the-password']])).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_TARGET_AUTH')).toBe(true);
    expect(String((err as Error).message)).not.toContain('not-the-password');
    expect(await dbsize(0)).toBe(10);
    const missing = await sessions.invalidate(ctx, new Map()).catch((e: unknown) => e);
    expect(isRekeyError(missing, 'ERR_ENVFILE_MISSING_KEY')).toBe(true);
  });

  it('with `admin` on the secret, purges as the admin: a least-privileged app user cannot reach the sessions', async () => {
    const appPassword = 'sessions-app-pw-0123456789abc';
    await withClient((c) =>
      c.sendCommand([
        'ACL',
        'SETUSER',
        'app',
        'reset',
        'on',
        `>${appPassword}`,
        '~app:*',
        '+@all',
        '-@dangerous',
      ]),
    );
    try {
      await seed(0, 300, (i) => `session:${i}`);
      await seed(0, 10, (i) => `app:${i}`);
      const appEnv = new Map([
        [KEY, appPassword],
        ['REDIS_ADMIN_PASSWORD', PASSWORD],
      ]);
      // As the app user (no admin): refused on the session keys (it failed the same way before).
      const asApp = redisSessions(secretFor(redis(), { user: 'app' }), {
        patterns: ['session:*'],
        batch: 100,
      });
      const refused = await asApp.invalidate(ctx, appEnv).catch((e: unknown) => e);
      expect(isRekeyError(refused), String(refused)).toBe(true);
      expect(String((refused as Error).message)).toMatch(/NOPERM|permission/i);
      expect(await dbsize(0)).toBe(310);
      // With admin: purged as the admin user, the app's keys untouched.
      const asAdmin = redisSessions(
        secretFor(redis(), { user: 'app', admin: { user: 'default', passwordKey: 'REDIS_ADMIN_PASSWORD' } }),
        { patterns: ['session:*'], batch: 100 },
      );
      expect(asAdmin.describe()).toContain('as admin user default');
      expect(await asAdmin.invalidate(ctx, appEnv)).toMatch(/^purged 300 keys matching session:\*/);
      expect(await dbsize(0)).toBe(10);
      const missing = await asAdmin.invalidate(ctx, new Map([[KEY, appPassword]])).catch((e: unknown) => e);
      expect(isRekeyError(missing, 'ERR_ENVFILE_MISSING_KEY')).toBe(true);
      expect(String((missing as Error).message)).toContain('REDIS_ADMIN_PASSWORD (the admin password for');
    } finally {
      await withClient((c) => c.sendCommand(['ACL', 'DELUSER', 'app']));
    }
  });

  it('stops when the rotation is interrupted: ERR_INTERRUPTED, the rest kept', async () => {
    await seed(0, 20_000, (i) => `session:${i}`);
    const controller = new AbortController();
    const sessions = redisSessions(
      secretFor(redis()),
      { patterns: ['session:*'], batch: 100 },
      { onProgress: (p) => p.batches === 5 && controller.abort() },
    );
    const err = await sessions
      .invalidate({ ...ctx, signal: controller.signal }, env)
      .catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_INTERRUPTED')).toBe(true);
    const left = await dbsize(0);
    expect(left).toBeGreaterThan(10_000);
    expect(left).toBeLessThan(20_000);
  });

  it('stays responsive to other clients during a purge', async () => {
    await seed(0, 30_000, (i) => `session:${i}`);
    await seed(0, 30_000, (i) => `other:${i}`);
    const sessions = redisSessions(secretFor(redis()), { patterns: ['session:*'], batch: 1000 });
    const latencies: number[] = [];
    let done = false;
    const pinger = withClient(async (c) => {
      while (!done) {
        const started = performance.now();
        await c.ping();
        latencies.push(performance.now() - started);
      }
    });
    await sessions.invalidate(ctx, env);
    done = true;
    await pinger;
    expect(latencies.length).toBeGreaterThan(10);
    expect(await dbsize(0)).toBe(30_000);
  });
});

describe('createSessions', () => {
  const base = {
    envFile: '.env',
    stateDir: '.rekey',
    secrets: [
      { key: 'JWT_SECRET', type: 'jwt' },
      { ...secretFor({ host: 'cache-a', port: 6379 }), key: 'CACHE_PASSWORD' },
      { ...secretFor({ host: 'sessions-b', port: 6380 }), key: 'SESSIONS_PASSWORD' },
    ],
  } as unknown as ParsedConfig;

  it('returns undefined without sessions.redis', () => {
    expect(createSessions(base, env)).toBeUndefined();
  });

  it('uses the first redis secret by default, or the one named', () => {
    const first = createSessions(
      { ...base, sessions: { redis: { patterns: ['session:*'], batch: 1000 } } },
      env,
    );
    expect(first?.describe()).toBe('purge session:* on redis cache-a:6379 (SCAN + UNLINK, batches of 1000)');
    const named = createSessions(
      { ...base, sessions: { redis: { secret: 'SESSIONS_PASSWORD', flushAll: true, batch: 1000 } } },
      env,
    );
    expect(named?.describe()).toBe('FLUSHALL ASYNC on redis sessions-b:6380 (every key of every db)');
  });

  it('carries sessions.redis.on (the triggers it purges on) for the engine', () => {
    const on = createSessions(
      { ...base, sessions: { redis: { patterns: ['session:*'], batch: 1000, on: ['compromise'] } } },
      env,
    );
    expect(on?.on).toEqual(['compromise']);
    const always = createSessions(
      { ...base, sessions: { redis: { patterns: ['session:*'], batch: 1000 } } },
      env,
    );
    expect(always?.on).toBeUndefined();
  });
});
