/**
 * The Grafana target's shape and wire format: what it tells the engine and the plan, what it refuses
 * in the config, and what travels on the wire (password in the Authorization header only).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RekeyError } from '../../../src/lib/errors.js';
import { STRONG_ALPHABET } from '../../../src/targets/grafana/answers.js';
import { isLoopback } from '../../../src/targets/grafana/endpoint.js';
import { ctx, FIRST, failuresDuring, KEY, rawServer, standIn, targetFor, vals } from './helpers.js';

describe('grafana target: contract', () => {
  it('describes itself as non-overlapping, live, retiring the old password', () => {
    const t = targetFor('http://127.0.0.1:3000');
    expect(t.key).toBe(KEY);
    expect(t.type).toBe('grafana');
    expect(t.keys).toEqual([KEY]);
    expect(t.secretKeys).toEqual([KEY]);
    const d = t.describe('scheduled');
    expect(d).toMatchObject({ fileOnly: false, overlap: false, retiresOld: true });
    expect(d.actions.join('\n')).toContain('PUT http://127.0.0.1:3000/api/user/password as admin');
  });

  it('plan notes: URL and user, the first-start trap, no warning on loopback http', async () => {
    const notes = await targetFor('http://127.0.0.1:3000/').inspect(ctx, vals(FIRST));
    const text = notes.map((n) => `${n.level} ${n.text}`).join('\n');
    expect(text).toContain('info Grafana API http://127.0.0.1:3000, user admin');
    expect(text).toMatch(/GF_SECURITY_ADMIN_PASSWORD .* only on Grafana's first start/);
    expect(notes.filter((n) => n.level === 'warn')).toEqual([]);
    // The default alphabet has no symbol: the plan says what a strong policy would need.
    expect(text).toMatch(/password_policy/);
  });

  it('plan warns about plain http to another host, not about https', async () => {
    const plain = await targetFor('http://grafana.internal:3000').inspect(ctx, vals(FIRST));
    expect(plain.filter((n) => n.level === 'warn').map((n) => n.text)).toEqual([
      expect.stringMatching(/plain http to another host: .* in clear/),
    ]);
    const tls = await targetFor('https://grafana.internal').inspect(ctx, vals(FIRST));
    expect(tls.filter((n) => n.level === 'warn')).toEqual([]);
  });

  it('plan says nothing about the policy once the alphabet has symbols and everyClass is set', async () => {
    const t = targetFor('http://127.0.0.1:3000', { alphabet: STRONG_ALPHABET, everyClass: true });
    const notes = await t.inspect(ctx, vals(FIRST));
    expect(notes.map((n) => n.text).join('\n')).not.toMatch(/password_policy/);
  });

  it.each([
    ['http://localhost:3000', true],
    ['http://127.0.0.53', true],
    ['http://[::1]:3000', true],
    ['http://[::ffff:127.0.0.1]:3000', true],
    ['http://10.0.0.5:3000', false],
    ['http://127.example.com', false],
    ['http://grafana', false],
  ])('isLoopback(%s) is %s', (url, loopback) => {
    expect(isLoopback(new URL(url))).toBe(loopback);
  });

  it('refuses a URL carrying credentials without echoing them', () => {
    let err: unknown;
    try {
      targetFor('http://admin:s3cret-in-url@127.0.0.1:3000');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RekeyError);
    expect((err as RekeyError).code).toBe('ERR_CONFIG_INVALID');
    expect((err as RekeyError).message).not.toContain('s3cret');
  });

  it('refuses a non-http URL and a login basic auth cannot carry', () => {
    expect(() => targetFor('ftp://127.0.0.1/')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => targetFor('http://127.0.0.1:3000', { user: 'a:b' })).toThrow(/":"/);
  });

  it('an empty value is never sent (Grafana would count it as a failed login)', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    await expect(t.checkCurrent(ctx, vals(''))).rejects.toMatchObject({ code: 'ERR_ENVFILE_MISSING_KEY' });
    await expect(t.stage(ctx, vals(FIRST), {})).rejects.toMatchObject({ code: 'ERR_ENVFILE_MISSING_KEY' });
    expect(grafana.stats()).toMatchObject({ logins: 0, failedLogins: 0 });
  });

  it('sends the password only in the Authorization header, with the documented JSON body', async () => {
    const seen: { method?: string; url?: string; headers: IncomingHttpHeaders; body: string }[] = [];
    const url = await rawServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"ok"}');
    });
    const t = targetFor(`${url}/grafana`, { user: 'ops' });
    await t.checkCurrent(ctx, vals('Cur-pw-wire-1'));
    await t.stage(ctx, vals('Cur-pw-wire-1'), vals('New-pw-wire-1'));

    expect(seen.map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /grafana/api/user',
      'GET /grafana/api/user',
      'PUT /grafana/api/user/password',
    ]);
    const basic = `Basic ${Buffer.from('ops:Cur-pw-wire-1').toString('base64')}`;
    for (const r of seen) {
      expect(r.headers.authorization).toBe(basic);
      expect(r.url).not.toMatch(/pw-wire/);
    }
    expect(seen[2]?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[2]?.body ?? '')).toEqual({
      oldPassword: 'Cur-pw-wire-1',
      newPassword: 'New-pw-wire-1',
      confirmNew: 'New-pw-wire-1',
    });
  });

  it('verify: one "Grafana Login" row, and the old password is never probed', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const cur = vals(FIRST);
    const next = t.generate(ctx, cur);
    await t.stage(ctx, cur, next);
    let rows: Awaited<ReturnType<typeof t.verify>> = [];
    const spent = await failuresDuring(grafana, async () => {
      rows = await t.verify(ctx, next, cur, true);
    });
    expect(spent).toBe(0);
    expect(rows).toEqual([
      expect.objectContaining({ name: 'Grafana Login', target: KEY, ok: true, expected: '200' }),
    ]);
    // A rejected value is a failed row (one failed login), not a throw.
    const bad = await t.verify(ctx, cur);
    expect(bad).toEqual([expect.objectContaining({ name: 'Grafana Login', ok: false })]);
    expect(bad[0]?.detail).toMatch(/401/);
  });

  it('Grafana with basic auth disabled: ERR_TARGET_AUTH saying so, and `next` is not tried', async () => {
    let requests = 0;
    const url = await rawServer((req, res) => {
      requests += 1;
      req.resume();
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"message":"Unauthorized","messageId":"auth.unauthorized","statusCode":401}');
    });
    const t = targetFor(url);
    await expect(t.stage(ctx, vals(FIRST), vals('Next-pw-12345'))).rejects.toMatchObject({
      code: 'ERR_TARGET_AUTH',
      hint: expect.stringMatching(/\[auth\.basic\] enabled = true/),
    });
    expect(requests).toBe(1);
  });
});
