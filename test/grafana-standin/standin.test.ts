/**
 * The Grafana stand-in over real HTTP: each documented answer (status and body), the brute-force
 * lockout with an injected clock, persistence across restarts (GF_SECURITY_ADMIN_PASSWORD applied
 * only on first start), the data file's secrecy, and the failure hook.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOGIN_ATTEMPTS_WINDOW_MS } from '../../demo/grafana/limiter.js';
import type { GrafanaStandInOptions } from '../../demo/grafana/standin.js';
import { entries } from '../helpers/tmp.js';
import { basic, call, changePassword, fakeClock, getUser, Harness } from './helpers.js';

const INITIAL = 'first-Admin-pw-1';
const harness = new Harness();
afterEach(() => harness.cleanup());

const LOGIN_FAILED = {
  message: 'Invalid username or password',
  messageId: 'password-auth.failed',
  statusCode: 401,
  traceID: '',
};

async function fresh(options: Partial<GrafanaStandInOptions> = {}) {
  const dataFile = await harness.dataFile();
  const grafana = await harness.start({ dataFile, initialPassword: INITIAL, ...options });
  return { grafana, dataFile };
}

describe('GET /api/health', () => {
  it('answers 200 with commit, database ok and version, without credentials', async () => {
    const { grafana } = await fresh({ version: '11.6.1' });
    const res = await call(`${grafana.url}/api/health`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ commit: 'grafana-standin', database: 'ok', version: '11.6.1' });
  });
});

describe('GET /api/user', () => {
  it('answers 200 with the admin profile for the right basic credentials', async () => {
    const { grafana } = await fresh({ now: fakeClock().now });
    const res = await getUser(grafana, 'admin', INITIAL);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.body).toMatchObject({
      id: 1,
      email: 'admin@localhost',
      name: '',
      login: 'admin',
      theme: '',
      orgId: 1,
      isGrafanaAdmin: true,
      isDisabled: false,
      isExternal: false,
      authLabels: [],
    });
    const body = res.body as { uid: string; createdAt: string; updatedAt: string; avatarUrl: string };
    expect(body.uid).toMatch(/^[0-9a-z]{14}$/);
    expect(body.createdAt).toBe('2026-01-01T00:00:00Z');
    expect(body.avatarUrl).toMatch(/^\/avatar\/[0-9a-f]{32}$/);
  });

  it('accepts the login case-insensitively and the email as login, like Grafana', async () => {
    const { grafana } = await fresh();
    expect((await getUser(grafana, 'ADMIN', INITIAL)).status).toBe(200);
    expect((await getUser(grafana, 'admin@localhost', INITIAL)).status).toBe(200);
  });

  it('answers 401 "Invalid username or password" for a wrong password or an unknown user', async () => {
    const { grafana } = await fresh();
    const wrong = await getUser(grafana, 'admin', 'not-it');
    expect(wrong.status).toBe(401);
    expect(wrong.body).toEqual(LOGIN_FAILED);
    const unknown = await getUser(grafana, 'nobody', INITIAL);
    expect(unknown.status).toBe(401);
    expect(unknown.body).toEqual(LOGIN_FAILED);
    const empty = await getUser(grafana, 'admin', '');
    expect(empty.status).toBe(401);
    expect(empty.body).toEqual(LOGIN_FAILED);
  });

  it('answers 401 "Unauthorized" without credentials or with a malformed Authorization header', async () => {
    const { grafana } = await fresh();
    const unauthorized = {
      message: 'Unauthorized',
      messageId: 'auth.unauthorized',
      statusCode: 401,
      traceID: '',
    };
    const none = await call(`${grafana.url}/api/user`);
    expect(none.status).toBe(401);
    expect(none.body).toEqual(unauthorized);
    const garbled = await call(`${grafana.url}/api/user`, { auth: 'Basic %%%not-base64' });
    expect(garbled.status).toBe(401);
    expect(garbled.body).toEqual(unauthorized);
    expect(grafana.stats()).toEqual({ logins: 0, failedLogins: 0, blockedLogins: 0 });
  });

  it('answers 404 "Not found" for routes the stand-in does not serve', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/api/dashboards/home`, { auth: basic('admin', INITIAL) });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ message: 'Not found' });
  });
});

describe('PUT /api/user/password', () => {
  it('answers 200 "User password changed"; the old password stops working, the new one works', async () => {
    const { grafana } = await fresh();
    const res = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'second-pw');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'User password changed' });
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(401);
    expect((await getUser(grafana, 'admin', 'second-pw')).status).toBe(200);
  });

  it('accepts the body without confirmNew (the API never compares it)', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/api/user/password`, {
      method: 'PUT',
      auth: basic('admin', INITIAL),
      json: { oldPassword: INITIAL, newPassword: 'second-pw', confirmNew: 'something else' },
    });
    expect(res.status).toBe(200);
  });

  it('answers 400 "Invalid old password" (current Grafana) and keeps the password', async () => {
    const { grafana } = await fresh();
    const res = await changePassword(grafana, { user: 'admin', password: INITIAL }, 'not-it', 'second-pw');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: 'Invalid old password',
      messageId: 'user.password-missmatch',
      statusCode: 400,
      traceID: '',
    });
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
  });

  it('answers 401 "Invalid old password" when configured as an older Grafana', async () => {
    const { grafana } = await fresh({ wrongOldPasswordStatus: 401 });
    const res = await changePassword(grafana, { user: 'admin', password: INITIAL }, 'not-it', 'second-pw');
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ message: 'Invalid old password' });
  });

  it('answers 400 "New password is too short" under 4 bytes, and accepts 4', async () => {
    const { grafana } = await fresh();
    const short = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'abc');
    expect(short.status).toBe(400);
    expect(short.body).toEqual({
      message: 'New password is too short',
      messageId: 'password.password-policy-too-short',
      statusCode: 400,
      traceID: '',
    });
    const four = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'abcd');
    expect(four.status).toBe(200);
  });

  it('checks the old password before the new one', async () => {
    const { grafana } = await fresh();
    const res = await changePassword(grafana, { user: 'admin', password: INITIAL }, 'not-it', 'x');
    expect((res.body as { message: string }).message).toBe('Invalid old password');
  });

  it('answers 401 for wrong basic credentials before looking at the body', async () => {
    const { grafana } = await fresh();
    const res = await changePassword(grafana, { user: 'admin', password: 'not-it' }, INITIAL, 'second-pw');
    expect(res.status).toBe(401);
    expect(res.body).toEqual(LOGIN_FAILED);
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
  });

  it('answers 400 "bad request data" for a body that is not a JSON object', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/api/user/password`, {
      method: 'PUT',
      auth: basic('admin', INITIAL),
      rawBody: '{"oldPassword":',
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ message: 'bad request data', traceID: '' });
  });

  describe('with the strong password policy', () => {
    const POLICY = {
      message: "New password doesn't comply with the password policy",
      messageId: 'password.password-policy-infringe',
      statusCode: 400,
      traceID: '',
    };

    it.each([
      ['shorter than 12', 'Sh0rt-pw!'],
      ['no upper case', 'lower-case-only-1'],
      ['no lower case', 'UPPER-CASE-ONLY-1'],
      ['no number', 'No-Numbers-Here'],
      ['no symbol', 'NoSymbolsHere123'],
    ])('answers 400 policy violation: %s', async (_why, candidate) => {
      const { grafana } = await fresh({ strongPolicy: true });
      const res = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, candidate);
      expect(res.status).toBe(400);
      expect(res.body).toEqual(POLICY);
    });

    it('accepts a compliant password', async () => {
      const { grafana } = await fresh({ strongPolicy: true });
      const res = await changePassword(
        grafana,
        { user: 'admin', password: INITIAL },
        INITIAL,
        'Correct-Horse-7',
      );
      expect(res.status).toBe(200);
      expect((await getUser(grafana, 'admin', 'Correct-Horse-7')).status).toBe(200);
    });
  });
});

describe('POST /login', () => {
  it('answers 200 "Logged in" with a session cookie that authenticates /api/user', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/login`, {
      method: 'POST',
      json: { user: 'admin', password: INITIAL },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'Logged in', redirectUrl: '/' });
    const cookie = res.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^grafana_session=[0-9a-f]{64}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    const session = cookie.split(';')[0] ?? '';
    const user = await call(`${grafana.url}/api/user`, { cookie: session });
    expect(user.status).toBe(200);
    expect((user.body as { login: string }).login).toBe('admin');
  });

  it('answers 401 "Invalid username or password" for a wrong password', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/login`, {
      method: 'POST',
      json: { user: 'admin', password: 'nope' },
    });
    expect(res.status).toBe(401);
    expect(res.body).toEqual(LOGIN_FAILED);
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('answers 400 "bad login data" for a body that is not JSON', async () => {
    const { grafana } = await fresh();
    const res = await call(`${grafana.url}/login`, { method: 'POST', rawBody: 'user=admin' });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      message: 'bad login data',
      messageId: 'form-auth.invalid',
      statusCode: 400,
      traceID: '',
    });
  });
});

describe('brute-force protection', () => {
  it('blocks the user after 5 failures within 5 minutes, even with the right password, then releases', async () => {
    const clock = fakeClock();
    const { grafana } = await fresh({ now: clock.now });
    for (let i = 0; i < 5; i += 1) {
      expect((await getUser(grafana, 'admin', `wrong-${i}`)).status).toBe(401);
      clock.advance(30_000);
    }
    // 5 failures in the last 5 minutes: the right password is refused, with the same public answer.
    const blocked = await getUser(grafana, 'admin', INITIAL);
    expect(blocked.status).toBe(401);
    expect(blocked.body).toEqual(LOGIN_FAILED);
    const form = await call(`${grafana.url}/login`, {
      method: 'POST',
      json: { user: 'admin', password: INITIAL },
    });
    expect(form.status).toBe(401);
    expect(grafana.stats()).toEqual({ logins: 0, failedLogins: 7, blockedLogins: 2 });
    expect(harness.logs.some((l) => l.includes('login for user temporarily blocked'))).toBe(true);

    // The first failure was at t0; 4 × 30 s later plus the window it has aged out: 4 left, not blocked.
    clock.advance(LOGIN_ATTEMPTS_WINDOW_MS - 5 * 30_000);
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(401); // exactly at the edge: still counted
    clock.advance(1);
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
    expect(grafana.stats().logins).toBe(1);
  });

  it('counts failures per username (case-insensitive) and not across users', async () => {
    const clock = fakeClock();
    const { grafana } = await fresh({ now: clock.now });
    for (let i = 0; i < 5; i += 1) await getUser(grafana, i % 2 === 0 ? 'Admin' : 'ADMIN', 'wrong');
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(401);
    // Another username (the email) has its own counter, as in Grafana.
    expect((await getUser(grafana, 'admin@localhost', INITIAL)).status).toBe(200);
  });

  it('does not count a wrong old password in a password change as a failed login', async () => {
    const clock = fakeClock();
    const { grafana } = await fresh({ now: clock.now });
    for (let i = 0; i < 6; i += 1) {
      await changePassword(grafana, { user: 'admin', password: INITIAL }, 'not-it', 'second-pw');
    }
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
    expect(grafana.stats()).toEqual({ logins: 7, failedLogins: 0, blockedLogins: 0 });
  });

  it('serialises concurrent logins: exactly 5 failures are recorded, the rest are blocked', async () => {
    const clock = fakeClock();
    const { grafana, dataFile } = await fresh({ now: clock.now });
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => getUser(grafana, 'admin', `wrong-${i}`)),
    );
    expect(answers.every((a) => a.status === 401)).toBe(true);
    expect(grafana.stats()).toEqual({ logins: 0, failedLogins: 8, blockedLogins: 3 });
    expect(JSON.parse(await readFile(dataFile, 'utf8')).loginAttempts).toHaveLength(5);
  });

  it('keeps the lockout across a restart (the attempts live in the database)', async () => {
    const clock = fakeClock();
    const { grafana, dataFile } = await fresh({ now: clock.now });
    for (let i = 0; i < 5; i += 1) await getUser(grafana, 'admin', 'wrong');
    await harness.stop(grafana);
    const again = await harness.start({ dataFile, now: clock.now });
    expect((await getUser(again, 'admin', INITIAL)).status).toBe(401);
    clock.advance(LOGIN_ATTEMPTS_WINDOW_MS + 1);
    expect((await getUser(again, 'admin', INITIAL)).status).toBe(200);
  });
});

describe('persistence', () => {
  it('keeps a changed password across a restart and ignores initialPassword the second time', async () => {
    const { grafana, dataFile } = await fresh();
    await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'rotated-pw-2');
    await harness.stop(grafana);
    // As with GF_SECURITY_ADMIN_PASSWORD, a new initial password on an existing database changes nothing.
    const again = await harness.start({ dataFile, initialPassword: 'what-the-env-file-says' });
    expect((await getUser(again, 'admin', 'rotated-pw-2')).status).toBe(200);
    expect((await getUser(again, 'admin', 'what-the-env-file-says')).status).toBe(401);
    expect((await getUser(again, 'admin', INITIAL)).status).toBe(401);
  });

  it('uses admin/admin on a first start without initialPassword, as Grafana does', async () => {
    const dataFile = await harness.dataFile();
    const grafana = await harness.start({ dataFile });
    expect((await getUser(grafana, 'admin', 'admin')).status).toBe(200);
  });

  it('holds no plaintext password, is mode 0600, and leaves no temp file', async () => {
    const { grafana, dataFile } = await fresh();
    await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'rotated-pw-2');
    await call(`${grafana.url}/login`, { method: 'POST', json: { user: 'admin', password: 'rotated-pw-2' } });
    const text = await readFile(dataFile, 'utf8');
    expect(text).not.toContain(INITIAL);
    expect(text).not.toContain('rotated-pw-2');
    expect(JSON.parse(text).users[0].passwordHash).toMatch(/^[0-9a-f]{100}$/);
    expect((await stat(dataFile)).mode & 0o777).toBe(0o600);
    expect(await entries(path.dirname(dataFile))).toEqual(['grafana.json']);
  });

  it('refuses to start on a damaged data file instead of recreating the admin', async () => {
    const dataFile = await harness.dataFile();
    await writeFile(dataFile, '{"users": "oops"}');
    await expect(harness.start({ dataFile, initialPassword: INITIAL })).rejects.toThrow(
      /not a stand-in data file/,
    );
  });
});

describe('PUT /api/admin/users/:id/password', () => {
  it('answers 200 "User password updated", resets the lockout and revokes sessions', async () => {
    const clock = fakeClock();
    const { grafana } = await fresh({ now: clock.now });
    const login = await call(`${grafana.url}/login`, {
      method: 'POST',
      json: { user: 'admin', password: INITIAL },
    });
    const session = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const res = await call(`${grafana.url}/api/admin/users/1/password`, {
      method: 'PUT',
      cookie: session,
      json: { password: 'reset-by-admin' },
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ message: 'User password updated' });
    expect((await call(`${grafana.url}/api/user`, { cookie: session })).status).toBe(401);
    expect((await getUser(grafana, 'admin', 'reset-by-admin')).status).toBe(200);
  });

  it('answers a generic 500 for a policy violation', async () => {
    const { grafana } = await fresh({ strongPolicy: true });
    const res = await call(`${grafana.url}/api/admin/users/1/password`, {
      method: 'PUT',
      auth: basic('admin', INITIAL),
      json: { password: 'weak' },
    });
    expect(res.status).toBe(500);
    expect(res.body).toEqual({ message: 'Failed to update user password', traceID: '' });
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
  });
});

describe('failNext', () => {
  it('answers the next request to that path with the status, then behaves normally', async () => {
    const { grafana } = await fresh();
    grafana.failNext('/api/user/password', 503);
    const failed = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'second-pw');
    expect(failed.status).toBe(503);
    expect(failed.body).toEqual({ message: 'Service Unavailable' });
    // Nothing changed and no login was counted.
    expect((await getUser(grafana, 'admin', INITIAL)).status).toBe(200);
    expect(grafana.stats()).toEqual({ logins: 1, failedLogins: 0, blockedLogins: 0 });
    const ok = await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'second-pw');
    expect(ok.status).toBe(200);
  });

  it('queues several failures for the same path and ignores the query string', async () => {
    const { grafana } = await fresh();
    grafana.failNext('/api/health', 500);
    grafana.failNext('/api/health', 502);
    expect((await call(`${grafana.url}/api/health?x=1`)).body).toEqual({ message: 'Internal Server Error' });
    expect((await call(`${grafana.url}/api/health`)).status).toBe(502);
    expect((await call(`${grafana.url}/api/health`)).status).toBe(200);
    expect(() => grafana.failNext('/api/health', 42)).toThrow(RangeError);
  });
});

describe('logs', () => {
  it('never contain a password', async () => {
    const clock = fakeClock();
    const { grafana } = await fresh({ now: clock.now });
    await changePassword(grafana, { user: 'admin', password: INITIAL }, INITIAL, 'rotated-pw-2');
    for (let i = 0; i < 6; i += 1) await getUser(grafana, 'admin', `secret-guess-${i}`);
    await call(`${grafana.url}/login`, {
      method: 'POST',
      json: { user: 'admin', password: 'secret-guess-x' },
    });
    expect(harness.logs.length).toBeGreaterThan(0);
    const all = harness.logs.join('\n');
    for (const secret of [INITIAL, 'rotated-pw-2', 'secret-guess']) expect(all).not.toContain(secret);
  });
});
