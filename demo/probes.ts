/**
 * The real requests the demo makes to prove what it claims: logins against PostgreSQL, Redis and the
 * Grafana API with a given password, and calls to the BI API app. Each returns what the service
 * answered (a status code or an error code), never a value.
 */
import pg from 'pg';
import { createClient } from 'redis';

/** PostgreSQL login + `SELECT 1`: 'accepted', or the server's error code (28P01: password rejected). */
export async function pgLogin(port: number, user: string, password: string): Promise<string> {
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    user,
    password,
    database: 'business_intelligence',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rowCount } = await client.query('SELECT 1');
    return rowCount === 1 ? 'accepted' : 'no row';
  } catch (e) {
    return (e as { code?: string }).code ?? 'error';
  } finally {
    await client.end().catch(() => {});
  }
}

/** Redis AUTH + PING on a new connection: 'PONG', or the error's first word (WRONGPASS). */
export async function redisLogin(port: number, password: string): Promise<string> {
  const client = createClient({
    socket: { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 3000 },
    password,
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return await client.ping();
  } catch (e) {
    return ((e as Error).message.split(' ')[0] ?? 'error').replace(/[^A-Z_]/g, '') || 'error';
  } finally {
    close(client);
  }
}

/** Redis: how many keys match a pattern (SCAN, as the purge does). */
export async function redisCount(port: number, password: string, pattern: string): Promise<number> {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false }, password });
  client.on('error', () => {});
  await client.connect();
  try {
    let n = 0;
    for await (const keys of client.scanIterator({ MATCH: pattern, COUNT: 1000 })) n += keys.length;
    return n;
  } finally {
    close(client);
  }
}

function close(client: { destroy(): void }): void {
  try {
    client.destroy();
  } catch {
    // already closed (the connection failed)
  }
}

/** Grafana `GET /api/user` with basic auth: the HTTP status. */
export async function grafanaLogin(url: string, password: string): Promise<number> {
  const res = await fetch(`${url}/api/user`, {
    headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}` },
  });
  await res.body?.cancel();
  return res.status;
}

/** Logs in to the app: the status and, on 200, the token. */
export async function appLogin(
  appUrl: string,
  password: string,
): Promise<{ status: number; token?: string; sid?: string }> {
  const res = await fetch(`${appUrl}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'analyst', password }),
  });
  if (res.status !== 200) {
    await res.body?.cancel();
    return { status: res.status };
  }
  const body = (await res.json()) as { token: string };
  const payload = JSON.parse(Buffer.from(body.token.split('.')[1] ?? '', 'base64url').toString()) as {
    sid?: string;
  };
  return { status: 200, token: body.token, ...(payload.sid ? { sid: payload.sid } : {}) };
}

/** `GET /api/auth/me` with a token: the status. */
export async function appMe(appUrl: string, token: string): Promise<number> {
  const res = await fetch(`${appUrl}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });
  await res.body?.cancel();
  return res.status;
}

/** `GET /api/reports` with an API key: the status. */
export async function appReports(appUrl: string, apiKey: string): Promise<number> {
  const res = await fetch(`${appUrl}/api/reports`, { headers: { 'x-api-key': apiKey } });
  await res.body?.cancel();
  return res.status;
}
