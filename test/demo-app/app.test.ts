/**
 * The demo BI API app in-process, against a real PostgreSQL (seeded users and reports) and Redis:
 * health, login, tokens across a JWT rotation, sessions, API keys, graceful close. Every log line and
 * answer is checked for secret values.
 */
import { request } from 'node:http';
import path from 'node:path';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppConfig, loadConfig } from '../../demo/app/config.js';
import { createLog } from '../../demo/app/log.js';
import { seed } from '../../demo/app/schema.js';
import { type App, createApp } from '../../demo/app/server.js';
import { keyId } from '../../demo/app/tokens.js';
import { sleep } from '../../demo/stack/wait.js';
import { usePostgres, useRedis } from '../helpers/services.js';
import { tempDir } from '../helpers/tmp.js';
import { appValues, call, redisCommands, secret, seededDatabase, until, writeEnv } from './helpers.js';

const postgres = usePostgres();
const redis = useRedis();

describe('demo app', () => {
  let values: Record<string, string>;
  let dir: string;
  const logs: string[] = [];
  const apps: App[] = [];

  /** Starts an app from an env file holding `values` plus `overrides`. */
  const start = async (overrides: Record<string, string> = {}, { healthy = true } = {}) => {
    const file = path.join(dir, `.env.${apps.length}`);
    await writeEnv(file, { ...values, ...overrides });
    const config: AppConfig = await loadConfig(file);
    const app = createApp(
      config,
      createLog('app', (line) => logs.push(line)),
    );
    apps.push(app);
    if (healthy) await app.untilHealthy();
    const { url } = await app.listen();
    return { app, url };
  };
  const login = async (url: string, password = values.DEMO_USER_PASSWORD) =>
    call(`${url}/api/auth/login`, { method: 'POST', json: { username: 'analyst', password } });
  const me = (url: string, token: string) =>
    call(`${url}/api/auth/me`, { headers: { authorization: `Bearer ${token}` } });

  let url: string;
  beforeAll(async () => {
    dir = await tempDir('rekey-demo-app-');
    values = { ...(await seededDatabase(postgres())), ...appValues(redis()) };
    ({ url } = await start());
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close(1000)));
    const secrets = Object.entries(values).filter(([k]) => /PASSWORD|SECRET/.test(k) && values[k] !== '');
    const text = logs.join('');
    for (const [key, value] of secrets) expect(text, `${key} leaked into the log`).not.toContain(value);
  });

  it('answers 200 {status: ok} on /api/health', async () => {
    expect(await call(`${url}/api/health`)).toEqual({ status: 200, body: { status: 'ok' } });
  });

  it('issues a token with kid = fingerprint of JWT_SECRET, and a session with a TTL', async () => {
    const answer = await login(url);
    expect(answer.status).toBe(200);
    const { token, expiresIn } = answer.body as { token: string; expiresIn: number };
    expect(expiresIn).toBe(600);
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')));
    expect(header).toMatchObject({ alg: 'HS256', kid: keyId(values.JWT_SECRET ?? '') });
    expect(header.kid).toMatch(/^[0-9a-f]{8}$/);
    expect(payload).toMatchObject({ sub: 'analyst', sid: expect.any(String) });
    expect(payload.exp - payload.iat).toBe(600);
    const [ttl] = await redisCommands(redis(), redis().password, [['TTL', `session:${payload.sid}`]]);
    expect(ttl).toBeGreaterThan(590);
    expect(token).not.toContain(values.JWT_SECRET);
  });

  it('rejects a wrong password, an unknown user and a malformed body', async () => {
    expect(await login(url, 'wrong-password')).toEqual({
      status: 401,
      body: { error: 'invalid_credentials' },
    });
    const unknown = await call(`${url}/api/auth/login`, {
      method: 'POST',
      json: { username: 'nobody', password: values.DEMO_USER_PASSWORD },
    });
    expect(unknown.status).toBe(401);
    expect((await call(`${url}/api/auth/login`, { method: 'POST', json: [1] })).status).toBe(400);
  });

  it('answers /api/auth/me for a valid token whose session exists', async () => {
    const { token } = (await login(url)).body as { token: string };
    const answer = await me(url, token);
    expect(answer).toEqual({ status: 200, body: { user: 'analyst', sid: expect.any(String) } });
    expect((await me(url, `${token}x`)).body).toEqual({ error: 'invalid_token' });
    expect((await call(`${url}/api/auth/me`)).body).toEqual({ error: 'invalid_token' });
  });

  it('refuses a token once its session key is deleted from Redis (session_expired)', async () => {
    const { token } = (await login(url)).body as { token: string };
    const { sid } = (await me(url, token)).body as { sid: string };
    await redisCommands(redis(), redis().password, [['DEL', `session:${sid}`]]);
    expect(await me(url, token)).toEqual({ status: 401, body: { error: 'session_expired' } });
  });

  it('accepts a token signed with the previous secret only while JWT_SECRET_PREVIOUS holds it', async () => {
    const old = await start();
    const { token } = (await login(old.url)).body as { token: string };
    const rotated = secret('jwt-new', 32);
    const grace = await start({ JWT_SECRET: rotated, JWT_SECRET_PREVIOUS: values.JWT_SECRET ?? '' });
    expect(await me(grace.url, token)).toMatchObject({ status: 200, body: { user: 'analyst' } });
    // new tokens are signed with the new secret and carry its kid
    const fresh = (await login(grace.url)).body as { token: string };
    const header = JSON.parse(Buffer.from(fresh.token.split('.')[0] ?? '', 'base64url').toString('utf8'));
    expect(header.kid).toBe(keyId(rotated));
    const revoked = await start({ JWT_SECRET: rotated, JWT_SECRET_PREVIOUS: '' });
    expect(await me(revoked.url, token)).toEqual({ status: 401, body: { error: 'invalid_token' } });
    expect((await me(revoked.url, fresh.token)).status).toBe(200);
  });

  it('maps a token without kid to the current key', async () => {
    const { token } = (await login(url)).body as { token: string };
    const { sid } = (await me(url, token)).body as { sid: string };
    const key = new TextEncoder().encode(values.JWT_SECRET);
    const noKid = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('analyst')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);
    expect((await me(url, noKid)).status).toBe(200);
    const wrongKey = await new SignJWT({ sid })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('analyst')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(secret('other', 32)));
    expect((await me(url, wrongKey)).status).toBe(401);
  });

  it('serves /api/reports for the current and the previous API key, 401 for any other', async () => {
    const previous = values.API_SECRET_KEY ?? '';
    const current = secret('api-new', 32);
    const app = await start({ API_SECRET_KEY: current, API_SECRET_KEY_PREVIOUS: previous });
    const reports = (key?: string) =>
      call(`${app.url}/api/reports`, key === undefined ? {} : { headers: { 'x-api-key': key } });
    const ok = await reports(current);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ title: 'Revenue by region', period: '2025-Q1' })]),
    );
    expect((await reports(previous)).status).toBe(200);
    expect(await reports(secret('api-wrong', 32))).toEqual({
      status: 401,
      body: { error: 'invalid_api_key' },
    });
    expect((await reports(`${current}x`)).status).toBe(401);
    expect((await reports()).status).toBe(401);
    // an empty previous slot accepts nothing extra
    const strict = await start({ API_SECRET_KEY: current, API_SECRET_KEY_PREVIOUS: '' });
    const fromStrict = (key: string) => call(`${strict.url}/api/reports`, { headers: { 'x-api-key': key } });
    expect((await fromStrict(previous)).status).toBe(401);
    expect((await fromStrict(current)).status).toBe(200);
  });

  it('re-seeds idempotently, taking the analyst password from DEMO_USER_PASSWORD of an env file', async () => {
    const file = path.join(dir, '.env.seed');
    const analyst = secret('analyst-2', 12);
    await writeEnv(file, { ...values, DEMO_USER_PASSWORD: analyst });
    const { host, port } = postgres();
    const client = new pg.Client({
      host,
      port,
      user: values.POSTGRES_USER,
      password: values.POSTGRES_PASSWORD,
      database: values.POSTGRES_DB,
    });
    await client.connect();
    try {
      expect(await seed(client, { envFile: file })).toEqual({ reports: 4 });
      const { rows } = await client.query<{ password_hash: string }>('SELECT password_hash FROM users');
      expect(rows).toHaveLength(1);
      expect(rows[0]?.password_hash).not.toContain(analyst);
    } finally {
      await client.end();
    }
    expect((await login(url, analyst)).status).toBe(200);
    expect((await login(url)).status).toBe(401);
    values.DEMO_USER_PASSWORD = analyst;
  });

  it('answers 503 naming postgres when its password is wrong', async () => {
    const bad = await start({ POSTGRES_PASSWORD: secret('pg-wrong') }, { healthy: false });
    const degraded = { status: 503, body: { status: 'degraded', postgres: 'error', redis: 'ok' } };
    // (Redis connects in the background: until it has, both are reported)
    await until(
      async () => JSON.stringify(await call(`${bad.url}/api/health`)) === JSON.stringify(degraded),
      'health to name postgres only',
    );
  });

  it('finishes an in-flight request on close, refuses new connections, closes the pools', async () => {
    const { app, url: appUrl } = await start();
    const body = JSON.stringify({ username: 'analyst', password: values.DEMO_USER_PASSWORD });
    const { port } = new URL(appUrl);
    const answer = new Promise<{ status: number; text: string; connection: string | undefined }>(
      (resolve, reject) => {
        const req = request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/auth/login',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        });
        req.on('response', (res) => {
          let text = '';
          res.on('data', (d: Buffer) => {
            text += d.toString('utf8');
          });
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }),
          );
        });
        req.on('error', reject);
        req.write(body.slice(0, 10));
        void until(() => app.inFlight() > 0, 'the request to arrive').then(async () => {
          const closed = app.close(5000);
          await sleep(300);
          await expect(fetch(`${appUrl}/api/health`)).rejects.toThrow();
          req.end(body.slice(10));
          expect(await closed).toEqual({ forced: false });
        }, reject);
      },
    );
    const result = await answer;
    expect(result.status).toBe(200);
    expect(result.connection).toBe('close');
    expect(JSON.parse(result.text)).toMatchObject({ token: expect.any(String) });
    await app.close();
    expect(app.backends.redis.isOpen).toBe(false);
    expect(app.backends.pool.totalCount).toBe(0);
  });

  it('cuts a request still running at the deadline', async () => {
    const { app, url: appUrl } = await start();
    const { port } = new URL(appUrl);
    const req = request({
      host: '127.0.0.1',
      port,
      method: 'POST',
      path: '/api/auth/login',
      headers: { 'content-type': 'application/json', 'content-length': 100 },
    });
    const failed = new Promise((resolve) => req.on('error', resolve));
    req.write('{');
    await until(() => app.inFlight() > 0, 'the request to arrive');
    expect(await app.close(200)).toEqual({ forced: true });
    await failed;
  });

  it('answers 503 naming redis while Redis is down, 200 again once it is back', async () => {
    await redis().kill();
    try {
      expect(await call(`${url}/api/health`)).toEqual({
        status: 503,
        body: { status: 'degraded', postgres: 'ok', redis: 'error' },
      });
      expect((await login(url)).status).toBe(503);
    } finally {
      await redis().restart();
    }
    await until(async () => (await call(`${url}/api/health`)).status === 200, 'health 200 again');
  });
});
