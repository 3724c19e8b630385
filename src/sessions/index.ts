/** Session invalidation configured under `sessions:`. */
import type { ParsedConfig, SecretConfigOf } from '../config/schema.js';
import type { SessionInvalidator } from '../engine/ports.js';
import { RekeyError } from '../lib/errors.js';
import { type RedisSessionsOptions, redisSessions } from './redis.js';

export type { SessionInvalidator } from '../engine/ports.js';
export type { PurgeProgress, RedisSessionsOptions } from './redis.js';

/**
 * The invalidator the config asks for, or undefined when none is configured. `sessions.redis` runs
 * on the server of the redis secret it names (`secret`), else of the first redis secret. The
 * password is read from the env passed to `invalidate` (after the commit), not from `_env`.
 *
 * @example
 * const sessions = createSessions(config, env);
 * sessions?.describe(); // 'purge session:* on redis 127.0.0.1:6379 (SCAN + UNLINK, batches of 1000)'
 */
export function createSessions(
  config: ParsedConfig,
  _env: ReadonlyMap<string, string>,
  options: RedisSessionsOptions = {},
): SessionInvalidator | undefined {
  const sessions = config.sessions?.redis;
  if (!sessions) return undefined;
  const secret = config.secrets.find(
    (s): s is SecretConfigOf<'redis'> =>
      s.type === 'redis' && (sessions.secret === undefined || s.key === sessions.secret),
  );
  if (!secret) {
    throw new RekeyError(
      'ERR_CONFIG_INVALID',
      `sessions.redis: ${sessions.secret ? `no redis secret has key ${sessions.secret}` : 'needs a secret of type redis'}`,
    );
  }
  return redisSessions(secret, sessions, options);
}
