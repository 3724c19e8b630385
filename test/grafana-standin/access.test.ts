/**
 * The stand-in's sessions and service accounts over real HTTP, as Grafana's HTTP API documents them:
 * browser login → session cookie; list and revoke the user's own sessions; admin logout (not of
 * oneself); service accounts and their tokens with Bearer authentication; 401 for a revoked session
 * or a deleted token. And, as in Grafana, a password change through PUT /api/user/password revokes
 * nothing (only the admin reset does).
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { basic, call, changePassword, Harness } from './helpers.js';

const INITIAL = 'first-Admin-pw-1';
const harness = new Harness();
afterEach(() => harness.cleanup());

async function fresh() {
  const dataFile = await harness.dataFile();
  const grafana = await harness.start({ dataFile, initialPassword: INITIAL });
  return { grafana, dataFile };
}

async function browserLogin(url: string, password = INITIAL): Promise<string> {
  const res = await call(`${url}/login`, { method: 'POST', json: { user: 'admin', password } });
  expect(res.status).toBe(200);
  const cookie = /grafana_session=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  expect(cookie).toBeDefined();
  return `grafana_session=${cookie}`;
}

async function token(
  url: string,
  auth: string,
  name = 'ci',
): Promise<{ sa: number; id: number; key: string }> {
  const sa = await call(`${url}/api/serviceaccounts`, {
    method: 'POST',
    auth,
    json: { name, role: 'Admin' },
  });
  expect(sa.status).toBe(201);
  const id = (sa.body as { id: number }).id;
  const t = await call(`${url}/api/serviceaccounts/${id}/tokens`, {
    method: 'POST',
    auth,
    json: { name: `${name}-token` },
  });
  expect(t.status).toBe(200);
  const body = t.body as { id: number; name: string; key: string };
  expect(body.name).toBe(`${name}-token`);
  expect(body.key).toMatch(/^glsa_[A-Za-z0-9_-]{32}_[0-9a-f]{8}$/);
  return { sa: id, id: body.id, key: body.key };
}

describe('sessions', () => {
  it('a browser session is listed, survives PUT /api/user/password, and is 401 once revoked', async () => {
    const { grafana } = await fresh();
    const admin = basic('admin', INITIAL);
    const cookie = await browserLogin(grafana.url);
    expect((await call(`${grafana.url}/api/user`, { cookie })).status).toBe(200);

    const list = await call(`${grafana.url}/api/user/auth-tokens`, { auth: admin });
    expect(list.status).toBe(200);
    const sessions = list.body as Array<{ id: number; isActive: boolean; createdAt: string }>;
    expect(sessions).toHaveLength(1);
    expect(sessions[0]?.isActive).toBe(false); // listed through basic auth, not through that session
    // Seen from the session itself, it is the active one and cannot revoke itself.
    const own = (await call(`${grafana.url}/api/user/auth-tokens`, { cookie })).body as Array<{
      isActive: boolean;
    }>;
    expect(own[0]?.isActive).toBe(true);
    const self = await call(`${grafana.url}/api/user/revoke-auth-token`, {
      method: 'POST',
      cookie,
      json: { authTokenId: sessions[0]?.id },
    });
    expect(self).toMatchObject({ status: 400, body: { message: 'Cannot revoke active user auth token' } });

    // Grafana's own password change leaves the session valid (pkg/api/user.go ChangeUserPassword).
    const next = 'second-Admin-pw-2';
    expect((await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, next)).status).toBe(
      200,
    );
    expect((await call(`${grafana.url}/api/user`, { cookie })).status).toBe(200);

    const revoke = () =>
      call(`${grafana.url}/api/user/revoke-auth-token`, {
        method: 'POST',
        auth: basic('admin', next),
        json: { authTokenId: sessions[0]?.id },
      });
    expect(await revoke()).toMatchObject({ status: 200, body: { message: 'User auth token revoked' } });
    expect(await call(`${grafana.url}/api/user`, { cookie })).toMatchObject({
      status: 401,
      body: { messageId: 'auth.unauthorized' },
    });
    expect(await revoke()).toMatchObject({ status: 404, body: { message: 'User auth token not found' } });
  });

  it('admin logout: not of oneself (400), of another user 404 when unknown; auth-tokens of a user by id', async () => {
    const { grafana } = await fresh();
    const admin = basic('admin', INITIAL);
    await browserLogin(grafana.url);
    expect(
      await call(`${grafana.url}/api/admin/users/1/logout`, { method: 'POST', auth: admin }),
    ).toMatchObject({
      status: 400,
      body: { message: 'You cannot logout yourself' },
    });
    expect(
      (await call(`${grafana.url}/api/admin/users/99/logout`, { method: 'POST', auth: admin })).status,
    ).toBe(404);
    const list = await call(`${grafana.url}/api/admin/users/1/auth-tokens`, { auth: admin });
    expect(list.status).toBe(200);
    expect(list.body).toHaveLength(1);
  });

  it('the admin reset (PUT /api/admin/users/:id/password) revokes every session of that user', async () => {
    const { grafana } = await fresh();
    const cookie = await browserLogin(grafana.url);
    const reset = await call(`${grafana.url}/api/admin/users/1/password`, {
      method: 'PUT',
      auth: basic('admin', INITIAL),
      json: { password: 'reset-Admin-pw-3' },
    });
    expect(reset.status).toBe(200);
    expect((await call(`${grafana.url}/api/user`, { cookie })).status).toBe(401);
  });
});

describe('service accounts and tokens', () => {
  it('a token authenticates as Bearer, is listed by name and time (never by key), and is 401 once deleted', async () => {
    const { grafana, dataFile } = await fresh();
    const admin = basic('admin', INITIAL);
    const t = await token(grafana.url, admin);
    const bearer = `Bearer ${t.key}`;
    expect(await call(`${grafana.url}/api/org`, { auth: bearer })).toMatchObject({
      status: 200,
      body: { id: 1 },
    });
    // An Admin service account can mint more tokens with its own token: a foothold that outlives the password.
    const more = await call(`${grafana.url}/api/serviceaccounts/${t.sa}/tokens`, {
      method: 'POST',
      auth: bearer,
      json: { name: 'second' },
    });
    expect(more.status).toBe(200);
    // The admin API takes no service-account token.
    expect((await call(`${grafana.url}/api/admin/users/1/auth-tokens`, { auth: bearer })).status).toBe(403);

    const search = await call(`${grafana.url}/api/serviceaccounts/search?perpage=10&page=1`, { auth: admin });
    expect(search.body).toMatchObject({
      totalCount: 1,
      serviceAccounts: [{ id: t.sa, name: 'ci', tokens: 2 }],
    });
    const list = await call(`${grafana.url}/api/serviceaccounts/${t.sa}/tokens`, { auth: admin });
    const rows = list.body as Array<Record<string, unknown>>;
    expect(rows.map((r) => r.name)).toEqual(['ci-token', 'second']);
    expect(rows[0]?.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(JSON.stringify(list.body)).not.toContain(t.key);
    expect(await readFile(dataFile, 'utf8')).not.toContain(t.key);

    const del = () =>
      call(`${grafana.url}/api/serviceaccounts/${t.sa}/tokens/${t.id}`, { method: 'DELETE', auth: admin });
    expect(await del()).toMatchObject({ status: 200, body: { message: 'Service account token deleted' } });
    expect(await call(`${grafana.url}/api/org`, { auth: bearer })).toMatchObject({
      status: 401,
      body: { messageId: 'api-key.invalid', message: 'Invalid API key' },
    });
    expect(await del()).toMatchObject({
      status: 404,
      body: { message: 'Failed to delete service account token' },
    });
    // Ids are never reused after a delete (autoincrement).
    const again = await call(`${grafana.url}/api/serviceaccounts/${t.sa}/tokens`, {
      method: 'POST',
      auth: admin,
      json: { name: 'ci-token' },
    });
    expect((again.body as { id: number }).id).toBeGreaterThan(t.id + 1);
  });

  it('a password change leaves tokens valid; an unknown Bearer is 401', async () => {
    const { grafana } = await fresh();
    const t = await token(grafana.url, basic('admin', INITIAL));
    expect(
      (await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'second-Admin-pw-2'))
        .status,
    ).toBe(200);
    expect((await call(`${grafana.url}/api/org`, { auth: `Bearer ${t.key}` })).status).toBe(200);
    expect((await call(`${grafana.url}/api/org`, { auth: 'Bearer glsa_nothing_00000000' })).status).toBe(401);
  });

  it('tokens survive a restart (hashes in the data file)', async () => {
    const { grafana, dataFile } = await fresh();
    const t = await token(grafana.url, basic('admin', INITIAL));
    await harness.stop(grafana);
    const again = await harness.start({ dataFile });
    expect((await call(`${again.url}/api/org`, { auth: `Bearer ${t.key}` })).status).toBe(200);
  });
});
