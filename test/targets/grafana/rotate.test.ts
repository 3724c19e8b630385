/**
 * The Grafana target's normal path against the stand-in: stage, test, verify, revert, each
 * idempotent, and the failed logins each costs (Grafana locks a user out after 5 in 5 minutes).
 */
import { describe, expect, it } from 'vitest';
import { accepts, ctx, FIRST, failuresDuring, KEY, standIn, targetFor, vals } from './helpers.js';

describe('grafana target: stage and revert', () => {
  it('stage makes the new password the only one, at zero failed logins', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    const pw = next[KEY]!;
    expect(pw).not.toBe(FIRST);

    expect(await failuresDuring(grafana, () => t.checkCurrent(ctx, vals(FIRST)))).toBe(0);
    expect(await failuresDuring(grafana, () => t.stage(ctx, vals(FIRST), next))).toBe(0);
    expect(await failuresDuring(grafana, () => t.test(ctx, next))).toBe(0);

    expect(await accepts(grafana, pw)).toBe(true);
    expect(await accepts(grafana, FIRST)).toBe(false);
  });

  it('stage twice: the second run finds it done at the cost of exactly one failed login', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    expect(await failuresDuring(grafana, () => t.stage(ctx, vals(FIRST), next))).toBe(0);
    // A crash after the change, before the journal said so: the re-run probes `cur` (rejected, the
    // one unavoidable failure), then `next` (accepted): nothing changed again.
    expect(await failuresDuring(grafana, () => t.stage(ctx, vals(FIRST), next))).toBe(1);
    expect(await accepts(grafana, next[KEY]!)).toBe(true);
  });

  it('revert makes the old password the only one again, at zero failed logins', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    await t.stage(ctx, vals(FIRST), next);

    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), next))).toBe(0);
    expect(await accepts(grafana, FIRST)).toBe(true);
    expect(await accepts(grafana, next[KEY]!)).toBe(false);
  });

  it('revert twice is fine: the second run finds it done at one failed login', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    await t.stage(ctx, vals(FIRST), next);
    await t.revert(ctx, vals(FIRST), next);
    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), next))).toBe(1);
    expect(await accepts(grafana, FIRST)).toBe(true);
  });

  it('revert when stage never ran leaves the old password working', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), next))).toBe(1);
    expect(await accepts(grafana, FIRST)).toBe(true);
    // Without a new value at all nothing can have been staged: only `cur` is probed.
    expect(await failuresDuring(grafana, () => t.revert(ctx, vals(FIRST), {}))).toBe(0);
  });

  it('a full rotate and revert cycle costs no failed login', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const cur = vals(FIRST);
    const next = t.generate(ctx, cur);
    const spent = await failuresDuring(grafana, async () => {
      await t.checkCurrent(ctx, cur);
      await t.stage(ctx, cur, next);
      await t.test(ctx, next);
      expect(await t.verify(ctx, next, cur, true)).toMatchObject([{ name: 'Grafana Login', ok: true }]);
      await t.revert(ctx, cur, next);
      expect(await t.verify(ctx, cur)).toMatchObject([{ name: 'Grafana Login', ok: true }]);
      await t.checkCurrent(ctx, cur);
    });
    expect(spent).toBe(0);
    expect(grafana.stats().blockedLogins).toBe(0);
  });

  it('a forward rotation (stage, test, verify, finish) costs no failed login either', async () => {
    const { grafana } = await standIn();
    const t = targetFor(grafana.url);
    const cur = vals(FIRST);
    const next = t.generate(ctx, cur);
    const spent = await failuresDuring(grafana, async () => {
      await t.stage(ctx, cur, next);
      await t.test(ctx, next);
      await t.verify(ctx, next, cur, true);
      await t.finish(ctx, cur, next);
      await t.finish(ctx, cur, next);
    });
    expect(spent).toBe(0);
    expect(await accepts(grafana, next[KEY]!)).toBe(true);
  });

  it('the new password survives a restart of Grafana (same data file)', async () => {
    const fixture = await standIn();
    const t = targetFor(fixture.grafana.url);
    const next = t.generate(ctx, vals(FIRST));
    await t.stage(ctx, vals(FIRST), next);

    // GF_SECURITY_ADMIN_PASSWORD is still the first password: ignored once the database exists.
    const grafana = await fixture.restart({ initialPassword: FIRST });
    const after = targetFor(grafana.url);
    await after.checkCurrent(ctx, next);
    expect(grafana.stats().failedLogins).toBe(0);
    expect(await accepts(grafana, FIRST)).toBe(false);
  });

  it('changes the password of the configured user', async () => {
    const { grafana } = await standIn({ adminUser: 'ops' });
    const t = targetFor(grafana.url, { user: 'ops' });
    const next = t.generate(ctx, vals(FIRST));
    await t.stage(ctx, vals(FIRST), next);
    expect(await accepts(grafana, next[KEY]!, 'ops')).toBe(true);
    expect(grafana.stats().failedLogins).toBe(0);
  });
});
