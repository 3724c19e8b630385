/**
 * What the Grafana target makes of Grafana's refusals and of a Grafana that is not there: typed
 * errors with a useful hint, never more than one try per password, and the old password intact.
 */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { RekeyError } from '../../../src/lib/errors.js';
import { changeRefused, STRONG_ALPHABET } from '../../../src/targets/grafana/answers.js';
import { endpointOf } from '../../../src/targets/grafana/endpoint.js';
import { send } from '../../../src/targets/grafana/http.js';
import {
  accepts,
  ctx,
  FIRST,
  failuresDuring,
  KEY,
  rawServer,
  rejection,
  standIn,
  targetFor,
  vals,
} from './helpers.js';

function expectCode(err: unknown, code: RekeyError['code']): RekeyError {
  expect(err).toBeInstanceOf(RekeyError);
  const e = err as RekeyError;
  expect(e.code, e.message).toBe(code);
  expect(e.message).not.toContain('\n');
  return e;
}

describe('grafana target: rejected passwords', () => {
  it('a wrong current password is ERR_TARGET_AUTH at one failed login, naming the lockout', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    let err: unknown;
    const spent = await failuresDuring(grafana, async () => {
      err = await rejection(() => t.checkCurrent(ctx, vals('wrong-password')));
    });
    expect(spent).toBe(1);
    const e = expectCode(err, 'ERR_TARGET_AUTH');
    expect(e.message).toMatch(/locked out/);
    expect(e.message).not.toContain('wrong-password');
    expect(e.hint).toMatch(/lockout/);
  });

  it('stage with neither value accepted: ERR_TARGET_AUTH after exactly two failed logins', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    let err: unknown;
    const spent = await failuresDuring(grafana, async () => {
      err = await rejection(() => t.stage(ctx, vals('not-the-password'), next));
    });
    expect(spent).toBe(2);
    const e = expectCode(err, 'ERR_TARGET_AUTH');
    expect(e.message).toMatch(/neither the current nor the new/);
    expect(e.hint).toMatch(/Do not retry at once/);
    expect(await accepts(grafana, FIRST)).toBe(true);
  });

  it('revert with neither value accepted: the same, two failed logins, no loop', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    let err: unknown;
    const spent = await failuresDuring(grafana, async () => {
      err = await rejection(() => t.revert(ctx, vals('old-wrong-1'), vals('new-wrong-1')));
    });
    expect(spent).toBe(2);
    expect(expectCode(err, 'ERR_TARGET_AUTH').message).toMatch(/neither/);
  });

  it('a locked-out admin is reported, not hammered', async () => {
    const { grafana } = await standIn();
    for (let i = 0; i < 5; i++) await accepts(grafana, `bad-guess-${i}`);
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    const err = await rejection(() => t.stage(ctx, vals(FIRST), next));
    expect(expectCode(err, 'ERR_TARGET_AUTH').message).toMatch(/locked out/);
    expect(grafana.stats().blockedLogins).toBe(2);
  });

  // The target authenticates with the very value it sends as `oldPassword`, so Grafana can only
  // answer "Invalid old password" after a race (the password changed between the two); the
  // stand-in's real answers, in both versions' shapes, are judged here directly.
  it.each([400, 401] as const)(
    'wrong old password (Grafana answering %i): ERR_TARGET_AUTH',
    async (status) => {
      const { grafana } = await standIn({ wrongOldPasswordStatus: status });
      const ep = endpointOf(KEY, grafana.url, 'admin');
      const answer = await send(
        ep,
        {
          method: 'PUT',
          path: 'api/user/password',
          password: FIRST,
          json: { oldPassword: 'Not-the-old-1', newPassword: 'Next-pw-12345', confirmNew: 'Next-pw-12345' },
        },
        { timeoutMs: 5_000 },
      );
      expect(answer.status).toBe(status);
      const e = expectCode(changeRefused(ep, answer, 'stage'), 'ERR_TARGET_AUTH');
      expect(e.message).toContain(`old password is wrong (${status}: Invalid old password)`);
      expect(await accepts(grafana, FIRST)).toBe(true);
    },
  );

  it('older Grafana stand-in (wrongOldPasswordStatus 401) rotates and reverts at no failed login', async () => {
    const { grafana } = await standIn({ wrongOldPasswordStatus: 401 });
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    await t.stage(ctx, vals(FIRST), next);
    await t.revert(ctx, vals(FIRST), next);
    expect(await accepts(grafana, FIRST)).toBe(true);
    expect(grafana.stats().failedLogins).toBe(0);
  });

  it('the password changed between the probe and the change: ERR_TARGET_AUTH, no second try', async () => {
    let puts = 0;
    const url = await rawServer((req, res) => {
      req.resume();
      if (req.url === '/api/user') {
        res.writeHead(200).end('{}');
        return;
      }
      puts += 1;
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end(
          '{"message":"Invalid username or password","messageId":"password-auth.failed","statusCode":401}',
        );
    });
    const e = expectCode(
      await rejection(() => targetFor(url).stage(ctx, vals(FIRST), vals('Next-pw-12345'))),
      'ERR_TARGET_AUTH',
    );
    expect(e.message).toMatch(/just accepted was rejected/);
    expect(puts).toBe(1);
  });
});

describe('grafana target: password policy', () => {
  it('strong policy with the default alphabet: ERR_TARGET_REJECTED whose hint spells out an alphabet', async () => {
    const { grafana } = await standIn({ strongPolicy: true });
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    const e = expectCode(await rejection(() => t.stage(ctx, vals(FIRST), next)), 'ERR_TARGET_REJECTED');
    expect(e.message).toMatch(/password policy/);
    expect(e.message).not.toContain(next[KEY]!);
    expect(e.hint).toContain(`alphabet: "${STRONG_ALPHABET}"`);
    expect(e.hint).toContain('! % ^ & * - _ +');
    expect(e.hint).toContain('everyClass: true');
    expect(await accepts(grafana, FIRST)).toBe(true);
    expect(grafana.stats().failedLogins).toBe(0);
  });

  it('the revert after a policy refusal costs no failed login; after a restart of rekey, one', async () => {
    const { grafana } = await standIn({ strongPolicy: true });
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    await rejection(() => t.stage(ctx, vals(FIRST), next));
    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), next))).toBe(0);
    // A new process (rekey recover) does not know the change was refused: `next` first, as usual.
    expect(await failuresDuring(grafana, () => targetFor(grafana.url).revert(ctx, vals(FIRST), next))).toBe(
      1,
    );
    expect(await accepts(grafana, FIRST)).toBe(true);
  });

  it("strong policy with the hint's settings pasted into rekey.yaml: rotations go through", async () => {
    const { grafana } = await standIn({ strongPolicy: true });
    const hinted = parse(`{ alphabet: "${STRONG_ALPHABET}", everyClass: true }`) as Record<string, unknown>;
    const t = targetFor(grafana.url, hinted);
    let cur = vals(FIRST);
    for (let i = 0; i < 5; i++) {
      const next = t.generate(ctx, cur);
      await t.stage(ctx, cur, next);
      await t.test(ctx, next);
      cur = next;
    }
    expect(await accepts(grafana, cur[KEY]!)).toBe(true);
    expect(grafana.stats().failedLogins).toBe(0);
  });

  it('a new password too short for the default policy: ERR_TARGET_REJECTED with the alphabet hint', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const e = expectCode(
      await rejection(() => t.stage(ctx, vals(FIRST), vals('abc'))),
      'ERR_TARGET_REJECTED',
    );
    expect(e.message).toMatch(/too short/);
    expect(e.hint).toContain(STRONG_ALPHABET);
  });
});

describe('grafana target: transport and server failures', () => {
  it('Grafana down: ERR_TARGET_UNREACHABLE from every operation', async () => {
    const fixture = await standIn();
    const url = fixture.grafana.url;
    await fixture.grafana.close();
    const t = targetFor(url);
    const e = expectCode(await rejection(() => t.checkCurrent(ctx, vals(FIRST))), 'ERR_TARGET_UNREACHABLE');
    expect(e.message).toMatch(/connection refused/);
    const next = vals('Next-pw-12345');
    expectCode(await rejection(() => t.stage(ctx, vals(FIRST), next)), 'ERR_TARGET_UNREACHABLE');
    expectCode(await rejection(() => t.test(ctx, next)), 'ERR_TARGET_UNREACHABLE');
    expectCode(await rejection(() => t.revert(ctx, vals(FIRST), next)), 'ERR_TARGET_UNREACHABLE');
    const [row] = await t.verify(ctx, next);
    expect(row).toMatchObject({ name: 'Grafana Login', ok: false });
    expect(row?.detail).toMatch(/connection refused/);
  });

  it('no answer: ERR_TARGET_UNREACHABLE after the timeout, one request only (no retry)', async () => {
    let requests = 0;
    const url = await rawServer((req) => {
      requests += 1;
      req.resume(); // never answers
    });
    const t = targetFor(url, {}, { timeoutMs: 200 });
    const e = expectCode(await rejection(() => t.checkCurrent(ctx, vals(FIRST))), 'ERR_TARGET_UNREACHABLE');
    expect(e.message).toMatch(/no answer within 0.2 s/);
    expect(requests).toBe(1);
  });

  it('500 on the change: ERR_TARGET_REJECTED with the status, and the old password still works', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    grafana.failNext('/api/user/password', 500);
    const e = expectCode(await rejection(() => t.stage(ctx, vals(FIRST), next)), 'ERR_TARGET_REJECTED');
    expect(e.message).toMatch(/\(PUT \/api\/user\/password\): answered 500/);
    expect(await accepts(grafana, FIRST)).toBe(true);
    expect(await accepts(grafana, next[KEY]!)).toBe(false);
    // The engine then reverts: `next` is probed first (one failure), `cur` is accepted.
    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), next))).toBe(1);
    expect(await accepts(grafana, FIRST)).toBe(true);
  });

  it('5xx on the login probe: ERR_TARGET_REJECTED, nothing tried after it', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    grafana.failNext('/api/user', 503);
    const e = expectCode(
      await rejection(() => t.stage(ctx, vals(FIRST), vals('Next-pw-12345'))),
      'ERR_TARGET_REJECTED',
    );
    expect(e.message).toMatch(/answered 503/);
    expect(grafana.stats()).toMatchObject({ logins: 0, failedLogins: 0 });
  });

  it('a redirect is not followed: the password never reaches the other address', async () => {
    let elsewhere = 0;
    const other = await rawServer((req, res) => {
      elsewhere += 1;
      req.resume();
      res.writeHead(200).end('{}');
    });
    const url = await rawServer((req, res) => {
      req.resume();
      res.writeHead(302, { location: `${other}/api/user?x=1` }).end();
    });
    const e = expectCode(
      await rejection(() => targetFor(url).checkCurrent(ctx, vals(FIRST))),
      'ERR_TARGET_REJECTED',
    );
    expect(e.message).toContain(`redirect to ${other}/api/user`);
    expect(e.message).not.toContain('x=1');
    expect(elsewhere).toBe(0);
  });

  it('a server echoing the request body does not leak the passwords into the error', async () => {
    const url = await rawServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      if (req.url === '/api/user') res.writeHead(200).end('{}');
      else res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ message: body }));
    });
    const e = expectCode(
      await rejection(() => targetFor(url).stage(ctx, vals('Old-pw-echo-1'), vals('New-pw-echo-1'))),
      'ERR_TARGET_REJECTED',
    );
    expect(e.message).not.toContain('Old-pw-echo-1');
    expect(e.message).not.toContain('New-pw-echo-1');
    expect(e.message).toContain(`[REDACTED:${KEY}]`);
  });
});
