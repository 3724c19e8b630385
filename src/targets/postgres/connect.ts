/**
 * Connections to the PostgreSQL server: one new `pg.Client` per operation, closed after, so every
 * check runs on a NEW connection (what consumers will do) and nothing is left open between phases.
 * Driver errors become RekeyErrors with a stable code and a one-line, redacted message.
 */
import { createHash } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { SecretConfigOf } from '../../config/schema.js';
import { RekeyError } from '../../lib/errors.js';
import { safeMessage } from '../../lib/redact.js';
import type { TargetContext } from '../types.js';

export type SslMode = NonNullable<SecretConfigOf<'postgres'>['sslmode']>;

/** Where the server is. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** libpq's meaning; unset means `prefer`, libpq's default. */
  readonly sslmode?: SslMode;
}

/** A role and its password (`label` names it in messages, e.g. "admin"). */
export interface Login {
  readonly user: string;
  readonly password: string;
  readonly label?: string;
  /**
   * The env file key the password was read from, when rekey reads it without owning it (`admin`):
   * if the server refuses it and the rotation under way changes that key (`ctx.rotating`), the new
   * value is tried next (see {@link TargetContext.rotating}).
   */
  readonly passwordKey?: string;
}

/**
 * The login to try when `login` is refused: the same role with the new value of its `passwordKey`
 * when the rotation under way changes it; undefined otherwise.
 */
function rotatedLogin(ctx: TargetContext, login: Login): Login | undefined {
  const password = login.passwordKey === undefined ? undefined : ctx.rotating?.(login.passwordKey);
  if (password === undefined || password === '' || password === login.password) return undefined;
  const { passwordKey: _, ...rest } = login;
  return { ...rest, password };
}

/** Runs `attempt` as `login`; when the server refused its password, once more as {@link rotatedLogin}. */
async function withRotated<T>(
  ctx: TargetContext,
  login: Login,
  attempt: (login: Login) => Promise<T>,
): Promise<T> {
  try {
    return await attempt(login);
  } catch (err) {
    const next = rotatedLogin(ctx, login);
    if (next === undefined || !AUTH_REJECTED.has(errorCode(err) ?? '')) throw err;
    return await attempt(next).catch((again: unknown) => {
      // Both refused: the env file's value is the one to name.
      throw AUTH_REJECTED.has(errorCode(again) ?? '') ? err : again;
    });
  }
}

export const CONNECT_TIMEOUT_MS = 5_000;
/** Connections of one phase's shared pool (the engine runs at most `concurrency` steps at once). */
const POOL_SIZE = 8;
const QUERY_TIMEOUT_MS = 30_000;

/** SQLSTATEs of a rejected credential: invalid_password, invalid_authorization_specification. */
export const AUTH_REJECTED: ReadonlySet<string> = new Set(['28P01', '28000']);
const UNREACHABLE: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  '57P03', // cannot_connect_now: starting up or shutting down
]);
const TLS_REFUSED = 'The server does not support SSL connections';

/** pg's `ssl` option for a libpq sslmode (`prefer` first tries TLS without verification). */
function sslOption(mode: SslMode): false | ConnectionOptions {
  switch (mode) {
    case 'disable':
      return false;
    case 'prefer':
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case 'verify-full':
      return { rejectUnauthorized: true };
  }
}

/** The SQLSTATE or Node error code of a driver error (AggregateError: its first inner error's). */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) return errorCode(err.errors[0]);
  if (err instanceof Error && /timeout expired|connection timeout|Query read timeout/i.test(err.message))
    return 'ETIMEDOUT';
  if (err instanceof Error && /Connection terminated/i.test(err.message)) return 'ECONNRESET';
  return undefined;
}

/**
 * The RekeyError for a driver error: ERR_TARGET_AUTH (28P01, 28000), ERR_TARGET_UNREACHABLE
 * (refused, timed out, unknown host), ERR_TARGET_PRIVILEGE (42501), else ERR_TARGET_REJECTED.
 * RekeyErrors pass through unchanged.
 *
 * @example
 * throw pgFailure(err, 'POSTGRES_PASSWORD', 'ALTER ROLE app');
 */
export function pgFailure(err: unknown, key: string, what: string): RekeyError {
  if (err instanceof RekeyError) return err;
  const code = errorCode(err);
  const message = `${key}: ${what}: ${safeMessage(err) || 'failed'}${code ? ` (${code})` : ''}`;
  if (code !== undefined && AUTH_REJECTED.has(code))
    return new RekeyError('ERR_TARGET_AUTH', message, { cause: err });
  if (code === '42501') return new RekeyError('ERR_TARGET_PRIVILEGE', message, { cause: err });
  if (code === '22007' || code === '22008')
    return new RekeyError('ERR_CONFIG_INVALID', message, {
      cause: err,
      hint: `Set \`validUntil\` of ${key} to a timestamp PostgreSQL accepts ('infinity', '2030-01-01').`,
    });
  if (code !== undefined && UNREACHABLE.has(code))
    return new RekeyError('ERR_TARGET_UNREACHABLE', message, { cause: err });
  return new RekeyError('ERR_TARGET_REJECTED', message, { cause: err });
}

/** What `tryLogin` found: accepted, or rejected with the server's SQLSTATE. */
export type LoginResult = { readonly ok: true } | { readonly ok: false; readonly code: string };

/** Opens connections to one server for one secret. */
export interface Connector {
  readonly endpoint: Endpoint;
  /**
   * Runs `fn` on a new connection as `login`, then closes it. Every error becomes a RekeyError.
   *
   * @example
   * await db.withClient(ctx, login, 'SELECT 1', (c) => c.query('SELECT 1'));
   */
  withClient<T>(
    ctx: TargetContext,
    login: Login,
    what: string,
    fn: (client: pg.Client) => Promise<T>,
  ): Promise<T>;
  /**
   * {@link withClient} on a connection borrowed from a pool that the targets of one phase share
   * (`ctx.shared`, closed when the phase ends): for statements of the admin, which need no fresh
   * login (stage's ALTER ROLE). A connection on which `fn` failed is closed, not returned. Without
   * `ctx.shared`, or before `sslmode: prefer` knows whether the server speaks TLS, a new connection.
   */
  withShared<T>(
    ctx: TargetContext,
    login: Login,
    what: string,
    fn: (client: pg.ClientBase) => Promise<T>,
  ): Promise<T>;
  /** One login attempt: accepted or rejected. Throws for anything else (unreachable, ...). */
  tryLogin(ctx: TargetContext, login: Login): Promise<LoginResult>;
  /**
   * The key of something targets on this server share in `ctx.shared` (`what`, and `login` by a
   * digest when given).
   */
  sharedKey(what: string, login?: Login): string;
  /** "connect to host:port/db as user" for messages. */
  describe(login: Login): string;
}

/**
 * A connector for `endpoint`; `key` prefixes every error message.
 *
 * @example
 * const db = connector({ host: '127.0.0.1', port: 5432, database: 'bi' }, 'POSTGRES_PASSWORD');
 * await db.withClient(ctx, { user: 'app', password }, 'check', (c) => c.query('SELECT 1'));
 */
export function connector(endpoint: Endpoint, key: string): Connector {
  const mode = endpoint.sslmode ?? 'prefer';
  // `prefer` falls back to a plain connection when the server answers that it has no TLS; remembered.
  let plain = mode === 'disable';
  /** `prefer`: a TLS connection succeeded once (so TLS is there). */
  let preferChecked = false;

  const settings = (login: Login, ssl: false | ConnectionOptions): pg.ClientConfig => ({
    host: endpoint.host,
    port: endpoint.port,
    database: endpoint.database,
    user: login.user,
    password: login.password,
    ssl,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'rekey',
  });

  const open = async (
    ctx: TargetContext,
    login: Login,
    ssl: false | ConnectionOptions,
  ): Promise<pg.Client> => {
    if (ctx.signal?.aborted) throw new RekeyError('ERR_INTERRUPTED', `${key}: interrupted`);
    const client = new pg.Client(settings(login, ssl));
    // Errors after connect (server gone, session terminated) surface on the next query.
    client.on('error', () => {});
    const abort = () => void client.end().catch(() => {});
    ctx.signal?.addEventListener('abort', abort, { once: true });
    client.once('end', () => ctx.signal?.removeEventListener('abort', abort));
    try {
      await client.connect();
      return client;
    } catch (err) {
      await client.end().catch(() => {});
      throw err;
    }
  };

  const connect = (ctx: TargetContext, login: Login): Promise<pg.Client> =>
    withRotated(ctx, login, (as) => connectAs(ctx, as));

  const connectAs = async (ctx: TargetContext, login: Login): Promise<pg.Client> => {
    if (plain) return open(ctx, login, false);
    try {
      const client = await open(ctx, login, sslOption(mode));
      preferChecked = true;
      return client;
    } catch (err) {
      if (mode !== 'prefer' || !(err instanceof Error) || err.message !== TLS_REFUSED) throw err;
      plain = true;
      return open(ctx, login, false);
    }
  };

  const failure = (ctx: TargetContext, err: unknown, what: string): RekeyError =>
    ctx.signal?.aborted && !(err instanceof RekeyError)
      ? new RekeyError('ERR_INTERRUPTED', `${key}: ${what}: interrupted`, { cause: err })
      : pgFailure(err, key, what);

  const sharedKey = (what: string, login?: Login): string => {
    // The login by a digest only: two secrets naming one admin user with different passwords differ.
    const id = login ? createHash('sha256').update(`${login.user}\0${login.password}`).digest('hex') : '';
    return `postgres ${what} ${endpoint.host}:${endpoint.port}/${endpoint.database} ${mode} ${id}`;
  };

  /** The phase's pool of connections as `login` to this endpoint (created on first use). */
  const poolOf = (ctx: TargetContext, login: Login): pg.Pool | undefined => {
    const memo = ctx.shared;
    // `prefer` before the first connection: whether TLS is there is not known yet.
    if (memo === undefined || (mode === 'prefer' && !plain && !preferChecked)) return undefined;
    const slot = sharedKey(`pool ${plain ? 'plain' : 'tls'}`, login);
    const found = memo.get(slot) as { pool: pg.Pool } | undefined;
    if (found !== undefined) return found.pool;
    const pool = new pg.Pool({
      ...settings(login, plain ? false : sslOption(mode)),
      max: POOL_SIZE,
      idleTimeoutMillis: 10_000,
      allowExitOnIdle: true,
    });
    // Errors of an idle connection (server gone, session ended): it is dropped from the pool.
    pool.on('error', () => {});
    memo.set(slot, { pool, close: () => pool.end() });
    return pool;
  };

  const describe = (login: Login) =>
    `connect to ${endpoint.host}:${endpoint.port}/${endpoint.database} as ${login.user}${login.label ? ` (${login.label})` : ''}`;

  const withClient: Connector['withClient'] = async (ctx, login, what, fn) => {
    let client: pg.Client;
    try {
      client = await connect(ctx, login);
    } catch (err) {
      throw failure(ctx, err, describe(login));
    }
    try {
      return await fn(client);
    } catch (err) {
      throw failure(ctx, err, what);
    } finally {
      await client.end().catch(() => {});
    }
  };

  return {
    endpoint,
    describe,
    sharedKey,
    withClient,
    async withShared(ctx, login, what, fn) {
      if (poolOf(ctx, login) === undefined) return withClient(ctx, login, what, fn);
      if (ctx.signal?.aborted) throw new RekeyError('ERR_INTERRUPTED', `${key}: interrupted`);
      let client: pg.PoolClient;
      try {
        client = await withRotated(ctx, login, async (as) => {
          const pool = poolOf(ctx, as);
          if (pool === undefined) throw new RekeyError('ERR_INTERNAL', `${key}: no shared pool`);
          return await pool.connect();
        });
      } catch (err) {
        throw failure(ctx, err, describe(login));
      }
      const abort = () => client.release(true);
      ctx.signal?.addEventListener('abort', abort, { once: true });
      let broken = false;
      try {
        return await fn(client);
      } catch (err) {
        broken = true;
        throw failure(ctx, err, what);
      } finally {
        ctx.signal?.removeEventListener('abort', abort);
        if (!ctx.signal?.aborted) client.release(broken);
      }
    },
    async tryLogin(ctx, login) {
      try {
        const client = await connect(ctx, login);
        await client.end().catch(() => {});
        return { ok: true };
      } catch (err) {
        const code = errorCode(err);
        if (code !== undefined && AUTH_REJECTED.has(code)) return { ok: false, code };
        throw failure(ctx, err, describe(login));
      }
    },
  };
}
