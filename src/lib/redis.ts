/**
 * One short-lived node-redis connection per operation: no reconnect loop, no offline queue, a
 * connect and a per-command timeout, every driver event swallowed (the client never prints), always
 * destroyed afterwards. Driver failures become {@link RekeyError}s with redacted one-line messages.
 *
 * The one place a Redis endpoint is built from a secret's settings ({@link redisEndpoint}) and turned
 * into connection options: the redis target (src/targets/redis) and session invalidation
 * (src/sessions) both connect through it.
 */
import { createClient, ErrorReply, RESP_TYPES } from 'redis';
import { RekeyError } from './errors.js';
import { safeMessage } from './redact.js';

/** Where and as whom to connect (from a `type: redis` secret). */
export interface RedisEndpoint {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly tls: boolean;
  /** The env key, for messages. */
  readonly key: string;
}

/** The settings of a `type: redis` secret an endpoint is built from. */
export interface RedisServerSettings {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly tls: boolean;
  readonly key: string;
}

/**
 * The endpoint of a `type: redis` secret, as its rotated user or, with `user`, as another ACL user of
 * the same server (the admin login).
 *
 * @example
 * const ep = redisEndpoint(secret); // { host: '127.0.0.1', port: 6379, user: 'app', tls: false, key: 'REDIS_PASSWORD' }
 * const admin = redisEndpoint(secret, 'default');
 */
export function redisEndpoint(secret: RedisServerSettings, user: string = secret.user): RedisEndpoint {
  return { host: secret.host, port: secret.port, user, tls: secret.tls, key: secret.key };
}

export type RedisArg = string | Buffer;

/** The few things rekey does on a connection, with timeouts and the abort signal applied. */
export interface RedisConn {
  /** Sends one command; bulk strings come back as strings. */
  command<T = unknown>(args: readonly RedisArg[]): Promise<T>;
  /** Sends one command; bulk strings come back as Buffers (binary-safe keys). */
  commandRaw<T = unknown>(args: readonly RedisArg[]): Promise<T>;
  /**
   * MULTI … EXEC: no other client's command in between. A command that fails when EXEC runs it does
   * not undo the others (MultiErrorReply). Without a reply within the command timeout the connection
   * is destroyed (whether EXEC ran is then unknown: read the state again on a new connection) and
   * the promise rejects with a timeout.
   */
  transaction(commands: readonly (readonly string[])[]): Promise<unknown[]>;
}

export const CONNECT_TIMEOUT_MS = 5_000;
export const COMMAND_TIMEOUT_MS = 15_000;

const BUFFERS = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** `host:port` for messages. */
export const where = (ep: RedisEndpoint) => `Redis ${ep.host}:${ep.port}`;

/**
 * Opens a connection authenticated with the first of `passwords` Redis accepts (each tried once, in
 * order, only while the previous one is refused with WRONGPASS; never in a loop; with `nopass`, none
 * when the default user has no password, i.e. accepts any client), runs `fn` on it
 * and destroys the connection whatever happens. Throws the driver's error as is (see
 * {@link toRekeyError}), or ERR_INTERRUPTED once `signal` aborts.
 *
 * @example
 * const pong = await withRedis(ep, [next, cur], (c) => c.command(['PING']));
 */
export async function withRedis<T>(
  ep: RedisEndpoint,
  passwords: string | readonly string[],
  fn: (conn: RedisConn) => Promise<T>,
  signal?: AbortSignal,
  options: { nopass?: boolean } = {},
): Promise<T> {
  const list = typeof passwords === 'string' ? [passwords] : passwords;
  const tries: Array<string | undefined> = list.filter((p, i) => p !== '' && list.indexOf(p) === i);
  if (tries.length === 0) throw new RekeyError('ERR_ENVFILE_MISSING_KEY', `${ep.key} is missing or empty`);
  for (let n = 0; n < tries.length; n++) {
    const password = tries[n];
    if (signal?.aborted) throw interrupted(ep);
    const client = newClient(ep, password);
    const abort = () => client.destroy();
    signal?.addEventListener('abort', abort, { once: true });
    try {
      try {
        await client.connect();
      } catch (err) {
        // The default user is `nopass` (no password at all: AUTH is refused, none is needed). With
        // `nopass` (finish, which closes such a user), connect without one to repair that state.
        if (options.nopass && password !== undefined && ep.user === 'default' && isNoPasswordSet(err)) {
          tries.splice(n + 1, tries.length, undefined);
          continue;
        }
        if (n < tries.length - 1 && isAuthFailure(err)) continue;
        throw err;
      }
      return await fn(wrap(client, signal));
    } catch (err) {
      // Aborting destroys the client: its commands then fail with "disconnects", not "aborted".
      throw signal?.aborted && !(err instanceof RekeyError) ? interrupted(ep, err) : err;
    } finally {
      signal?.removeEventListener('abort', abort);
      if (client.isOpen) client.destroy();
    }
  }
  throw new RekeyError('ERR_INTERNAL', 'unreachable');
}

function interrupted(ep: RedisEndpoint, cause?: unknown): RekeyError {
  return new RekeyError('ERR_INTERRUPTED', `${ep.key}: ${where(ep)}: interrupted`, { cause });
}

/** `AUTH <password>` to a server whose default user has no password (nopass). */
const isNoPasswordSet = (err: unknown) =>
  err instanceof ErrorReply && /called without any password configured/.test(err.message);

function newClient(ep: RedisEndpoint, password: string | undefined) {
  const client = createClient({
    socket: {
      host: ep.host,
      port: ep.port,
      connectTimeout: CONNECT_TIMEOUT_MS,
      reconnectStrategy: false,
      // Node sends SNI (and checks the certificate) for a host name; never for an IP address.
      ...(ep.tls ? { tls: true as const } : {}),
    },
    // `AUTH <password>` for the default user works on every Redis; `AUTH <user> <password>` needs 6+.
    ...(ep.user === 'default' ? {} : { username: ep.user }),
    ...(password === undefined ? {} : { password }),
    // No CLIENT SETNAME: a user without +client|setname would fail the handshake.
    disableOfflineQueue: true,
  });
  // Failures reach us through the rejected promises; the event would only be noise.
  client.on('error', () => {});
  return client;
}

function wrap(client: ReturnType<typeof newClient>, signal?: AbortSignal): RedisConn {
  const options = { timeout: COMMAND_TIMEOUT_MS, ...(signal ? { abortSignal: signal } : {}) };
  return {
    command: (args) => client.sendCommand(args, options),
    commandRaw: (args) => client.sendCommand(args, { ...options, typeMapping: BUFFERS }),
    async transaction(commands) {
      const multi = client.multi();
      for (const args of commands) multi.addCommand([...args]);
      // node-redis applies no timeout to MULTI/EXEC; a paused or stuck server would hang here forever.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          client.destroy();
          reject(new TransactionTimeout(COMMAND_TIMEOUT_MS));
        }, COMMAND_TIMEOUT_MS);
      });
      try {
        return (await Promise.race([multi.exec(), timedOut])) as unknown[];
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** MULTI/EXEC got no reply in time (the connection was destroyed; EXEC may or may not have run). */
export class TransactionTimeout extends Error {
  constructor(ms: number) {
    super(`MULTI/EXEC got no reply within ${ms / 1000} s (connection closed; it may or may not have run)`);
    this.name = 'TransactionTimeout';
  }
}

export type FailureKind = 'auth' | 'privilege' | 'unreachable' | 'rejected';

/** What a driver error means: WRONGPASS/NOAUTH → auth, NOPERM → privilege, no reply → unreachable. */
export function classify(err: unknown): FailureKind {
  if (err instanceof RekeyError) {
    if (err.code === 'ERR_TARGET_AUTH') return 'auth';
    if (err.code === 'ERR_TARGET_PRIVILEGE') return 'privilege';
    if (err.code === 'ERR_TARGET_UNREACHABLE') return 'unreachable';
    return 'rejected';
  }
  if (err instanceof ErrorReply) {
    const msg = err.message;
    if (/^(WRONGPASS|NOAUTH)\b/.test(msg)) return 'auth';
    if (/^NOPERM\b/.test(msg)) return 'privilege';
    if (/^(LOADING|BUSY|MASTERDOWN|TRYAGAIN)\b/.test(msg)) return 'unreachable';
    return 'rejected';
  }
  return 'unreachable';
}

const CODE = {
  auth: 'ERR_TARGET_AUTH',
  privilege: 'ERR_TARGET_PRIVILEGE',
  unreachable: 'ERR_TARGET_UNREACHABLE',
  rejected: 'ERR_TARGET_REJECTED',
} as const;

/**
 * The RekeyError for a driver error: `<KEY>: Redis <host:port> (<context>): <redacted driver message>`.
 *
 * @example
 * throw toRekeyError(err, ep, 'current password'); // REDIS_PASSWORD: Redis 127.0.0.1:6379 (current password): WRONGPASS …
 */
export function toRekeyError(err: unknown, ep: RedisEndpoint, context: string): RekeyError {
  if (err instanceof RekeyError) return err;
  const kind = classify(err);
  const why = describeDriverError(err);
  return new RekeyError(CODE[kind], `${ep.key}: ${where(ep)} (${context}): ${why}`, { cause: err });
}

/** One redacted line for a driver error; socket errors without text get a plain description. */
export function describeDriverError(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  const msg = safeMessage(err);
  if (typeof code === 'string' && !msg.includes(code)) return `${code} ${msg}`.trim();
  if (msg === 'Socket closed unexpectedly') return 'connection closed (timed out or refused)';
  return msg || 'unknown error';
}

/** True for a WRONGPASS / NOAUTH rejection (the password, not the network). */
export const isAuthFailure = (err: unknown) => classify(err) === 'auth';
