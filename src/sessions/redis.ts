/**
 * Session invalidation on the Redis server of a `type: redis` secret (`sessions.redis` in
 * rekey.yaml), one of:
 * - `patterns`: purge the matching keys of db 0 by SCAN + UNLINK (see redis-purge.ts), never KEYS;
 * - `flushDb: N`: `SELECT N` + `FLUSHDB ASYNC` (a dedicated sessions db: 34 ms for 1M keys);
 * - `flushAll: true`: `FLUSHALL ASYNC` (every key of every db).
 * It connects with the env file's value AFTER the commit, so with the new password: as the secret's
 * `admin` when it has one (a least-privileged app user may not reach the session keys, nor FLUSHDB),
 * else as the rotated user.
 */
import type { ParsedConfig, SecretConfigOf } from '../config/schema.js';
import type { SessionInvalidator, TargetContext } from '../engine/ports.js';
import { RekeyError } from '../lib/errors.js';
import { type RedisConn, redisEndpoint, toRekeyError, withRedis } from '../lib/redis.js';
import { type PurgeProgress, purgePattern } from './redis-purge.js';

export type RedisSessionsConfig = NonNullable<NonNullable<ParsedConfig['sessions']>['redis']>;
export type { PurgeProgress } from './redis-purge.js';

export interface RedisSessionsOptions {
  /** Called after every SCAN batch with the running counts (pattern purges only). */
  readonly onProgress?: (progress: PurgeProgress) => void;
}

/**
 * The invalidator for `sessions.redis`, on the server of `secret`.
 *
 * @example
 * const sessions = redisSessions(secret, { patterns: ['session:*'], batch: 1000 });
 * sessions.describe(); // 'purge session:* on redis 127.0.0.1:6379 (SCAN + UNLINK, batches of 1000)'
 * await sessions.invalidate(ctx, envAfterCommit); // 'purged 1234 keys matching session:* in 0.4 s'
 */
export function redisSessions(
  secret: SecretConfigOf<'redis'>,
  config: RedisSessionsConfig,
  options: RedisSessionsOptions = {},
): SessionInvalidator {
  const admin = secret.admin;
  const ep = redisEndpoint(secret, admin?.user);
  const passwordKey = admin?.passwordKey ?? secret.key;
  const server = `redis ${secret.host}:${secret.port}`;
  const patterns = config.patterns ?? [];

  const run = async (conn: RedisConn, signal?: AbortSignal): Promise<string> => {
    if (config.flushAll) {
      const keys = await keyCount(conn);
      await conn.command(['FLUSHALL', 'ASYNC']);
      return `flushed every db of ${server} (${keys} keys, FLUSHALL ASYNC)`;
    }
    if (config.flushDb !== undefined) {
      await conn.command(['SELECT', String(config.flushDb)]);
      const keys = Number(await conn.command(['DBSIZE']));
      await conn.command(['FLUSHDB', 'ASYNC']);
      return `flushed db ${config.flushDb} of ${server} (${keys} keys, FLUSHDB ASYNC)`;
    }
    const counts: string[] = [];
    let total = 0;
    for (const pattern of patterns) {
      const n = await purgePattern(conn, pattern, {
        batch: config.batch,
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(signal ? { signal } : {}),
      });
      total += n;
      counts.push(`${pattern} (${n})`);
    }
    const which = patterns.length === 1 ? patterns[0] : counts.join(', ');
    return `purged ${total} keys matching ${which}`;
  };

  return {
    ...(config.on ? { on: config.on } : {}),
    describe(): string {
      const as = admin ? ` as admin user ${admin.user}` : '';
      if (config.flushAll) return `FLUSHALL ASYNC on ${server}${as} (every key of every db)`;
      if (config.flushDb !== undefined) return `FLUSHDB ASYNC of db ${config.flushDb} on ${server}${as}`;
      return `purge ${patterns.join(', ')} on ${server}${as} (SCAN + UNLINK, batches of ${config.batch})`;
    },

    async invalidate(ctx: TargetContext, env: ReadonlyMap<string, string>): Promise<string> {
      const password = env.get(passwordKey);
      if (!password) {
        throw new RekeyError(
          'ERR_ENVFILE_MISSING_KEY',
          `${passwordKey}${admin ? ` (the admin password for ${secret.key})` : ''} is missing or empty in the env file`,
        );
      }
      const started = Date.now();
      let summary: string;
      try {
        summary = await withRedis(ep, password, (conn) => run(conn, ctx.signal), ctx.signal);
      } catch (err) {
        throw toRekeyError(err, ep, 'session invalidation');
      }
      return `${summary} in ${((Date.now() - started) / 1000).toFixed(1)} s`;
    },
  };
}

/** Keys of every db, from `INFO keyspace` (`db0:keys=12,expires=0,...`). */
async function keyCount(conn: RedisConn): Promise<number> {
  const info = String(await conn.command(['INFO', 'keyspace']));
  let total = 0;
  for (const m of info.matchAll(/^db\d+:keys=(\d+)/gm)) total += Number(m[1]);
  return total;
}
