/**
 * Throwaway local services for `rekey demo` and the tests: PostgreSQL and Redis on 127.0.0.1 and free
 * ports, in temp dirs, killed when this process exits.
 *
 * @example
 * import { startPostgres, createLoginRole, startRedis } from './demo/stack/index.js';
 * const pg = await startPostgres();
 * await createLoginRole(pg, { name: 'app', password: 'pw', database: 'business_intelligence' });
 * const redis = await startRedis({ password: 'pw' });
 * await Promise.all([pg.stop(), redis.stop()]);
 */
export { findPostgresBinDir } from './pg-bin.js';
export { freePort, RESERVED_PORTS } from './ports.js';
export { type PostgresOptions, type PostgresServer, startPostgres } from './postgres.js';
export {
  asSuperuser,
  createDatabase,
  createLoginRole,
  type LoginRole,
  superuserConfig,
} from './postgres-roles.js';
export {
  aclPasswordHash,
  type RedisMode,
  type RedisOptions,
  type RedisServer,
  redisConfQuote,
  startRedis,
} from './redis.js';
export { SCRAM_ITERATIONS, scramVerifier } from './scram.js';
