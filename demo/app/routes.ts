/**
 * The BI API's routes:
 * - `GET /api/health`: 200 `{status:'ok'}` when PostgreSQL (`SELECT 1`) and Redis (`PING`) answer
 *   with the app's credentials, else 503 `{status:'degraded', postgres, redis}` naming the failure;
 * - `POST /api/auth/login` `{username, password}`: checks the `users` table, stores `session:<sid>`
 *   in Redis with a TTL, answers `{token, expiresIn}` (HS256, `kid` header); 401 on wrong credentials;
 * - `GET /api/auth/me` (Bearer): the token verifies with the current or previous secret and its
 *   session exists → `{user, sid}`; else 401 `invalid_token` or `session_expired`;
 * - `GET /api/reports` (`X-API-Key`, current or previous key): the `reports` table; 401 otherwise.
 * No answer and no log line ever holds a secret.
 */
import type { IncomingMessage } from 'node:http';
import { type ApiKeys, apiKeyMatches } from './apikeys.js';
import type { Backends } from './backends.js';
import { bearer, type Reply, readJsonObject, unauthorized } from './http.js';
import { verifyPassword } from './passwords.js';
import { type JwtKeys, newSessionId, signToken, verifyToken } from './tokens.js';

/** What the routes use. */
export interface RouteDeps {
  backends: Backends;
  jwt: JwtKeys;
  apiKeys: ApiKeys;
  /** Session and token lifetime, seconds. */
  sessionTtl: number;
}

const REDIS_TIMEOUT = { timeout: 2000 };
const sessionKey = (sid: string) => `session:${sid}`;

type Handler = (deps: RouteDeps, req: IncomingMessage) => Promise<Reply>;

const ROUTES: Record<string, Partial<Record<string, Handler>>> = {
  '/api/health': { GET: health },
  '/api/auth/login': { POST: login },
  '/api/auth/me': { GET: me },
  '/api/reports': { GET: reports },
};

/**
 * Answers one request. Throws only when a backend fails (the server answers 503).
 *
 * @example
 * const reply = await route(deps, req); // { status: 200, body: { status: 'ok' } }
 */
export async function route(deps: RouteDeps, req: IncomingMessage): Promise<Reply> {
  let path: string;
  try {
    path = new URL(req.url ?? '/', 'http://app.invalid').pathname;
  } catch {
    return { status: 400, body: { error: 'bad_request' } };
  }
  const methods = ROUTES[path];
  if (methods === undefined) return { status: 404, body: { error: 'not_found' } };
  const handler = methods[req.method ?? 'GET'];
  if (handler === undefined) return { status: 405, body: { error: 'method_not_allowed' } };
  return handler(deps, req);
}

async function health({ backends }: RouteDeps): Promise<Reply> {
  const result = await backends.health();
  return result.ok
    ? { status: 200, body: { status: 'ok' } }
    : { status: 503, body: { status: 'degraded', postgres: result.postgres, redis: result.redis } };
}

async function login(deps: RouteDeps, req: IncomingMessage): Promise<Reply> {
  const body = await readJsonObject(req);
  const { username, password } = body ?? {};
  if (typeof username !== 'string' || typeof password !== 'string' || username === '') {
    return { status: 400, body: { error: 'bad_request', message: 'expected JSON {username, password}' } };
  }
  const { rows } = await deps.backends.pool.query<{ password_hash: string }>(
    'SELECT password_hash FROM users WHERE username = $1',
    [username],
  );
  if (!(await verifyPassword(password, rows[0]?.password_hash))) return unauthorized('invalid_credentials');
  const sid = newSessionId();
  const session = JSON.stringify({ user: username, createdAt: new Date().toISOString() });
  await deps.backends.redis.sendCommand(
    ['SET', sessionKey(sid), session, 'EX', String(deps.sessionTtl)],
    REDIS_TIMEOUT,
  );
  const token = await signToken(deps.jwt, { sub: username, sid }, deps.sessionTtl);
  return { status: 200, body: { token, expiresIn: deps.sessionTtl } };
}

async function me(deps: RouteDeps, req: IncomingMessage): Promise<Reply> {
  const token = bearer(req.headers.authorization);
  const claims = token === undefined ? undefined : await verifyToken(deps.jwt, token);
  if (claims === undefined) return unauthorized('invalid_token');
  // A read: retried once if a rotation closed the connection under it (backends.ts, closedUnder).
  const stored = await deps.backends.read(['GET', sessionKey(claims.sid)], REDIS_TIMEOUT.timeout);
  if (typeof stored !== 'string') return unauthorized('session_expired');
  if (sessionUser(stored) !== claims.sub) return unauthorized('invalid_token');
  return { status: 200, body: { user: claims.sub, sid: claims.sid } };
}

function sessionUser(stored: string): string | undefined {
  try {
    const value = JSON.parse(stored) as { user?: unknown };
    return typeof value.user === 'string' ? value.user : undefined;
  } catch {
    return undefined;
  }
}

async function reports(deps: RouteDeps, req: IncomingMessage): Promise<Reply> {
  if (!apiKeyMatches(deps.apiKeys, req.headers['x-api-key'])) return unauthorized('invalid_api_key');
  const { rows } = await deps.backends.pool.query(
    'SELECT id, title, period, revenue FROM reports ORDER BY id',
  );
  return { status: 200, body: rows };
}
