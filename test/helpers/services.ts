/**
 * Throwaway PostgreSQL and Redis servers for a test file: started in `beforeAll`, stopped in
 * `afterAll`. Use the returned getter inside tests and hooks (the server exists only after beforeAll).
 */
import { createClient } from 'redis';
import { afterAll, beforeAll } from 'vitest';
import { type PostgresOptions, type PostgresServer, startPostgres } from '../../demo/stack/postgres.js';
import { type RedisOptions, type RedisServer, startRedis } from '../../demo/stack/redis.js';

function useServer<T extends { stop(): Promise<void> }>(what: string, start: () => Promise<T>): () => T {
  let server: T | undefined;
  beforeAll(async () => {
    server = await start();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return () => {
    if (server === undefined)
      throw new Error(`${what} is not running: call the getter inside a test or hook`);
    return server;
  };
}

/**
 * A throwaway PostgreSQL server for the current test file (or describe block).
 *
 * @example
 * const pg = usePostgres({ logStatementAll: true });
 * it('connects', async () => { const { port } = pg(); ... });
 */
export function usePostgres(options: PostgresOptions = {}): () => PostgresServer {
  return useServer('PostgreSQL', () => startPostgres(options));
}

/**
 * A throwaway Redis server for the current test file (or describe block); password 'test-redis-pw'
 * unless given.
 *
 * @example
 * const redis = useRedis({ mode: 'aclfile' });
 * it('pings', async () => { const { port, password } = redis(); ... });
 */
export function useRedis(options: Partial<RedisOptions> = {}): () => RedisServer {
  return useServer('Redis', () => startRedis({ password: 'test-redis-pw', ...options }));
}

export type RedisClient = ReturnType<typeof createClient>;

/**
 * A node-redis client on `server` for the length of `fn` (no reconnects), destroyed after.
 *
 * @example
 * const n = await withRedisClient(redis(), PASSWORD, (c) => c.dbSize());
 */
export async function withRedisClient<T>(
  server: { host: string; port: number },
  password: string,
  fn: (c: RedisClient) => Promise<T>,
): Promise<T> {
  const c = createClient({
    socket: { host: server.host, port: server.port, reconnectStrategy: false },
    password,
  });
  c.on('error', () => {});
  await c.connect();
  try {
    return await fn(c);
  } finally {
    c.destroy();
  }
}
