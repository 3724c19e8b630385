/** `rekey check` in pure code: which findings fail, which warn, and the GitHub annotations. */
import { describe, expect, it } from 'vitest';
import { isRekeyError } from '../../src/lib/errors.js';
import { checkFailure, evaluateCheck, githubAnnotations, lateBreakGlass } from '../../src/policy/check.js';
import { computeStatus } from '../../src/policy/status.js';
import { ago, event, inputs, NOW, SECRETS, statusConfig } from './helpers.js';

const rotated = (days: Record<string, number>) =>
  inputs({ events: Object.entries(days).map(([k, d]) => event({ time: ago(d), keys: [k] })) });

describe('evaluateCheck', () => {
  it('passes when every secret is within policy', () => {
    const r = evaluateCheck(
      computeStatus(statusConfig(), rotated({ JWT_SECRET: 1, POSTGRES_PASSWORD: 2, REDIS_PASSWORD: 3 }), NOW),
    );
    expect(r).toEqual({ ok: true, beforeRelease: false, findings: [] });
  });

  it('warns (and passes) when a secret is due soon', () => {
    const r = evaluateCheck(
      computeStatus(
        statusConfig(),
        rotated({ JWT_SECRET: 80, POSTGRES_PASSWORD: 2, REDIS_PASSWORD: 3 }),
        NOW,
      ),
    );
    expect(r.ok).toBe(true);
    expect(r.findings).toEqual([
      expect.objectContaining({ key: 'JWT_SECRET', level: 'warning', reason: 'due-soon' }),
    ]);
    expect(r.findings[0]?.message).toMatch(/due 2026-06-11, in 10d .*max age 90d/);
  });

  it('fails when a secret is overdue or never rotated', () => {
    const r = evaluateCheck(
      computeStatus(statusConfig(), rotated({ JWT_SECRET: 95, POSTGRES_PASSWORD: 2 }), NOW),
    );
    expect(r.ok).toBe(false);
    expect(r.findings.map((f) => [f.key, f.level, f.reason])).toEqual([
      ['JWT_SECRET', 'error', 'overdue'],
      ['REDIS_PASSWORD', 'error', 'never-rotated'],
    ]);
    expect(r.findings[0]?.message).toMatch(
      /overdue: last rotated 2026-02-26 \(95d ago\), max age 90d, due 2026-05-27; rotate it: rekey rotate --only JWT_SECRET/,
    );
    expect(r.findings[1]?.message).toMatch(/# LastSecretRotation: YYYY-MM-DD/);
  });

  it('--before-release fails on secrets older than policy.releaseMaxAge, and needs it set', () => {
    const i = rotated({ JWT_SECRET: 40, POSTGRES_PASSWORD: 2, REDIS_PASSWORD: 3 });
    expect(evaluateCheck(computeStatus(statusConfig(SECRETS, { releaseMaxAge: '30d' }), i, NOW)).ok).toBe(
      true,
    );
    const r = evaluateCheck(computeStatus(statusConfig(SECRETS, { releaseMaxAge: '30d' }), i, NOW), {
      beforeRelease: true,
    });
    expect(r.ok).toBe(false);
    expect(r.findings).toEqual([
      expect.objectContaining({ key: 'JWT_SECRET', reason: 'release', level: 'error' }),
    ]);
    expect(r.findings[0]?.message).toMatch(
      /older than policy.releaseMaxAge 30d.*rekey rotate --trigger release/,
    );
    let err: unknown;
    try {
      evaluateCheck(computeStatus(statusConfig(), i, NOW), { beforeRelease: true });
    } catch (e) {
      err = e;
    }
    expect(isRekeyError(err, 'ERR_CONFIG_INVALID')).toBe(true);
  });

  it('warns about failing rotations and secrets the scheduler gave up on', () => {
    const i = inputs({
      events: [
        event({ time: ago(10), keys: ['JWT_SECRET', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD'] }),
        event({ time: ago(1), keys: ['JWT_SECRET'], outcome: 'rolled-back' }),
      ],
      schedule: {
        version: 1,
        secrets: {
          REDIS_PASSWORD: {
            consecutiveFailures: 3,
            needsAttention: { since: ago(2).toISOString(), reason: '3 failed runs in a row' },
          },
        },
      },
    });
    const r = evaluateCheck(computeStatus(statusConfig(), i, NOW));
    expect(r.ok).toBe(true);
    expect(r.findings.map((f) => [f.key, f.level, f.reason])).toEqual([
      ['JWT_SECRET', 'warning', 'rotation-failing'],
      ['REDIS_PASSWORD', 'warning', 'needs-attention'],
    ]);
    expect(r.findings[1]?.message).toMatch(/rekey schedule --clear REDIS_PASSWORD/);
  });
});

describe('githubAnnotations', () => {
  it('prints one workflow command per finding, escaped', () => {
    const r = evaluateCheck(
      computeStatus(
        statusConfig(),
        rotated({ JWT_SECRET: 95, POSTGRES_PASSWORD: 80, REDIS_PASSWORD: 1 }),
        NOW,
      ),
    );
    const lines = githubAnnotations(r);
    expect(lines).toEqual([
      expect.stringMatching(/^::error title=rekey%3A JWT_SECRET overdue::JWT_SECRET \(jwt\) is overdue: /),
      expect.stringMatching(
        /^::warning title=rekey%3A POSTGRES_PASSWORD due soon::POSTGRES_PASSWORD \(postgres\) is due /,
      ),
    ]);
    const odd = githubAnnotations({
      ok: false,
      beforeRelease: false,
      findings: [
        { key: 'K', type: 't', level: 'error', reason: 'overdue', title: 'a, b: c', message: '100%\nnext' },
      ],
    });
    expect(odd).toEqual(['::error title=rekey%3A a%2C b%3A c::100%25%0Anext']);
  });
});

describe('lateBreakGlass', () => {
  const awaiting = [
    {
      requestId: 'req-old',
      keys: ['JWT_SECRET'],
      time: new Date(NOW.getTime() - 25 * 3600_000).toISOString(),
    },
    {
      requestId: 'req-new',
      keys: ['API_SECRET_KEY'],
      time: new Date(NOW.getTime() - 23 * 3600_000).toISOString(),
    },
  ];

  it('keeps the requests made at least approvals.breakGlassDeadline ago', () => {
    expect(lateBreakGlass(awaiting, { breakGlassDeadline: '24h' }, NOW).map((b) => b.requestId)).toEqual([
      'req-old',
    ]);
    expect(lateBreakGlass(awaiting, { breakGlassDeadline: '23h' }, NOW)).toHaveLength(2);
  });

  it('keeps none without an approvals section', () => {
    expect(lateBreakGlass(awaiting, undefined, NOW)).toEqual([]);
  });
});

describe('checkFailure', () => {
  const late = [{ requestId: 'req-1', keys: ['JWT_SECRET'], time: '2026-01-01T00:00:00.000Z' }];
  const passing = evaluateCheck(
    computeStatus(statusConfig(), rotated({ JWT_SECRET: 1, POSTGRES_PASSWORD: 2, REDIS_PASSWORD: 3 }), NOW),
  );
  const failing = evaluateCheck(
    computeStatus(statusConfig(), rotated({ JWT_SECRET: 95, POSTGRES_PASSWORD: 2, REDIS_PASSWORD: 3 }), NOW),
  );

  it('is none when nothing fails and no break-glass approval is late', () => {
    expect(checkFailure(passing, [])).toBeUndefined();
  });

  it('names the failing secrets first (ERR_OVERDUE, exit 3)', () => {
    const e = checkFailure(failing, late);
    expect(isRekeyError(e, 'ERR_OVERDUE')).toBe(true);
    expect(e?.message).toBe('1 secret overdue: JWT_SECRET');
  });

  it('names the late break-glass requests when no secret fails', () => {
    const e = checkFailure(passing, late);
    expect(isRekeyError(e, 'ERR_OVERDUE')).toBe(true);
    expect(e?.message).toBe(
      '1 break-glass rotation still lack their approvals after approvals.breakGlassDeadline: req-1',
    );
    expect(e?.hint).toMatch(/rekey approve ID --role ROLE/);
  });
});
