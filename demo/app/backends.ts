/**
 * The app's connections: a small `pg.Pool` and one node-redis client that reconnects by itself, both
 * with the credentials read at start. Neither is ever re-authenticated: rotation keeps the old
 * credentials valid (Redis dual passwords, alternating Postgres roles) until the runner has replaced
 * this process with one that read the new ones.
 */
import pg from 'pg';
import { ClientOfflineError, createClient, SocketClosedUnexpectedlyError } from 'redis';
import type { AppConfig } from './config.js';
import { type AppLog, describeError } from './log.js';

/** How long one health probe (connect included) may take. */
export const PROBE_TIMEOUT_MS = 2000;

export type Probe = 'ok' | 'error';
export type BackendName = 'postgres' | 'redis';

/** The result of one health check. */
export interface Health {
  ok: boolean;
  postgres: Probe;
  redis: Probe;
  /**
   * The backends that refused the app's credentials (PostgreSQL 28P01/28000, Redis WRONGPASS/NOAUTH),
   * with the server's message (for the log, never for an HTTP answer).
   */
  rejected: Partial<Record<BackendName, string>>;
}

/** PostgreSQL: invalid_password, invalid_authorization_specification (no LOGIN, no pg_hba entry). */
const PG_AUTH_CODES = new Set(['28P01', '28000']);
const REDIS_AUTH = /^(WRONGPASS|NOAUTH)\b/;

export type RedisClient = ReturnType<typeof newRedisClient>;

/** The open connections of one app instance. */
export interface Backends {
  readonly pool: pg.Pool;
  readonly redis: RedisClient;
  /** `SELECT 1` on the pool and `PING` on Redis, in parallel, each bounded by {@link PROBE_TIMEOUT_MS}. */
  health(): Promise<Health>;
  /**
   * A Redis read (`GET`, `PING`: idempotent, never a write) within `timeoutMs`, sent once more when
   * node-redis reports that the socket closed under it (see {@link closedUnder}); a second failure
   * is the answer.
   */
  read(args: string[], timeoutMs?: number): Promise<unknown>;
  /** Resolves once the first Redis connection attempt has succeeded or failed (at most a probe timeout). */
  firstAttempt(): Promise<void>;
  /** Closes the pool and the Redis client. Idempotent. */
  close(): Promise<void>;
}

function newRedisClient(config: AppConfig) {
  return createClient({
    socket: {
      host: config.redis.host,
      port: config.redis.port,
      connectTimeout: PROBE_TIMEOUT_MS,
      // Back off up to 2 s, with jitter; never give up (a restarted Redis is picked up again).
      reconnectStrategy: (retries: number) =>
        Math.min(100 * 2 ** Math.min(retries, 5), 2000) + Math.random() * 100,
    },
    password: config.redis.password,
    // Fail at once while disconnected instead of queueing: a request answers 503 rather than hang.
    disableOfflineQueue: true,
  });
}

/**
 * Opens the pool and starts connecting to Redis (in the background: a Redis that is down delays
 * nothing; requests needing it fail until it is back).
 *
 * @example
 * const backends = openBackends(config, log);
 * (await backends.health()).ok; // true when both answer
 */
export function openBackends(config: AppConfig, log: AppLog): Backends {
  const pool = new pg.Pool({
    host: config.postgres.host,
    port: config.postgres.port,
    user: config.postgres.user,
    password: config.postgres.password,
    database: config.postgres.database,
    max: 4,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: PROBE_TIMEOUT_MS,
    query_timeout: 10_000,
    application_name: 'rekey-demo-app',
  });
  // An idle client that dies (server restart, terminated backend) is dropped by the pool; the event
  // must be handled or it would crash the process.
  pool.on('error', (err) => log.error(`postgres: idle connection lost: ${describeError(err)}`));

  const redis = newRedisClient(config);
  let lastRedisError = '';
  // A refused AUTH surfaces only here: commands then fail with "The client is offline".
  let redisRejected: string | undefined;
  // True from a close of the connection until the reconnect it starts succeeds or fails.
  let reconnectingAfterClose = false;
  redis.on('error', (err: unknown) => {
    reconnectingAfterClose = closedByPeer(err);
    const message = describeError(err);
    if (message !== lastRedisError) log.error(`redis: ${message}`);
    lastRedisError = message;
    redisRejected = REDIS_AUTH.test(message) ? message : undefined;
  });
  redis.on('ready', () => {
    reconnectingAfterClose = false;
    if (lastRedisError !== '') log.info('redis: connected again');
    lastRedisError = '';
    redisRejected = undefined;
  });
  const connecting = redis.connect().catch(() => {}); // errors arrive as 'error' events
  const firstAttempt = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, PROBE_TIMEOUT_MS);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    redis.once('ready', done);
    redis.once('error', done);
  });

  // Each probe logs when its outcome changes, not on every failing request.
  const lastFailure = new Map<BackendName, string>();
  const probe = async (what: BackendName, fn: () => Promise<unknown>): Promise<[Probe, unknown]> => {
    try {
      await fn();
      if (lastFailure.delete(what)) log.info(`health: ${what} ok again`);
      return ['ok', undefined];
    } catch (err) {
      const message = describeError(err);
      if (lastFailure.get(what) !== message) log.error(`health: ${what}: ${message}`);
      lastFailure.set(what, message);
      return ['error', err];
    }
  };
  /** Resolves once the client is ready again, a reconnect attempt failed, or `ms` passed. */
  const readyAgain = (ms: number) =>
    new Promise<void>((resolve) => {
      if (redis.isReady) return resolve();
      const done = () => {
        clearTimeout(timer);
        redis.off('ready', done);
        redis.off('error', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      redis.once('ready', done);
      redis.once('error', done);
    });
  const read = async (args: string[], timeoutMs = PROBE_TIMEOUT_MS) => {
    const deadline = Date.now() + timeoutMs;
    try {
      return await redis.sendCommand(args, { timeout: timeoutMs });
    } catch (err) {
      if (!closedUnder(err, reconnectingAfterClose)) throw err;
      await readyAgain(deadline - Date.now());
      return await redis.sendCommand(args, { timeout: Math.max(1, deadline - Date.now()) });
    }
  };
  let closing: Promise<void> | undefined;
  return {
    pool,
    redis,
    async health() {
      const [[postgres, pgError], [redisProbe]] = await Promise.all([
        probe('postgres', () => withTimeout(pool.query('SELECT 1'), PROBE_TIMEOUT_MS)),
        probe('redis', () => read(['PING'])),
      ]);
      const rejected: Health['rejected'] = {};
      if (PG_AUTH_CODES.has((pgError as { code?: string } | undefined)?.code ?? '')) {
        rejected.postgres = describeError(pgError);
      }
      if (redisProbe === 'error' && redisRejected !== undefined) rejected.redis = redisRejected;
      return { ok: postgres === 'ok' && redisProbe === 'ok', postgres, redis: redisProbe, rejected };
    },
    read,
    firstAttempt: () => firstAttempt,
    close() {
      closing ??= (async () => {
        await Promise.allSettled([
          pool.end(),
          redis.isReady ? redis.close() : Promise.resolve(redis.isOpen ? redis.destroy() : undefined),
        ]);
        await connecting;
      })();
      return closing;
    },
  };
}

/**
 * Whether node-redis failed a command because its socket closed under it: the command was in flight
 * when the connection was closed (see {@link closedByPeer}: "all the commands that were already sent
 * will reject as they might have been executed on the server", node-redis FAQ), or it was sent during
 * the reconnect that close started (`ClientOfflineError`: the offline queue is off). A rekey
 * compromise rotation closes every connection of the Redis user (`CLIENT KILL USER`), so this happens
 * once per rotation; a server that is down is not this case (its reconnect attempts fail, which clears
 * `reconnectingAfterClose`) and still fails at once.
 */
export function closedUnder(err: unknown, reconnectingAfterClose: boolean): boolean {
  return closedByPeer(err) || (err instanceof ClientOfflineError && reconnectingAfterClose);
}

/** Socket errors of a connection the peer ended: a reset, or a write after the peer closed. */
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Whether the server ended an open connection: a clean close (`SocketClosedUnexpectedlyError`), or a
 * reset (`read ECONNRESET`). A server closing a socket whose input it has not read yet (a command the
 * client sent just before `CLIENT KILL` ran) makes the kernel answer with a reset instead of a close
 * (RFC 1122 §4.2.2.13); node-redis then fails the commands in flight with that socket error. Seen in
 * test/live/compromise-live.test.ts under load: one `/api/health` 503 per few dozen rotations.
 */
export function closedByPeer(err: unknown): boolean {
  if (err instanceof SocketClosedUnexpectedlyError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && RESET_CODES.has(code);
}

/** Rejects when `promise` takes longer than `ms` (the work itself is not cancelled). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
