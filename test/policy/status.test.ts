/**
 * The status computation with a pinned clock: the age from each source (audit log, annotation,
 * journal history, never), their order, and every state.
 */
import { describe, expect, it } from 'vitest';
import { computeStatus } from '../../src/policy/status.js';
import type { PolicyInputs, SecretStatus } from '../../src/policy/types.js';
import { ago, DAY, event, inputs, NOW, SECRETS, secret, statusConfig } from './helpers.js';

function statusOf(key: string, i: PolicyInputs, config = statusConfig()): SecretStatus {
  const s = computeStatus(config, i, NOW).secrets.find((x) => x.key === key);
  if (!s) throw new Error(`no ${key}`);
  return s;
}

describe('age sources', () => {
  it('takes the newest successful rotation from the audit log, with its trigger', () => {
    const s = statusOf(
      'JWT_SECRET',
      inputs({
        events: [
          event({ time: ago(50), keys: ['JWT_SECRET'], source: 'audit' }),
          event({ time: ago(10), keys: ['JWT_SECRET'], source: 'audit', trigger: 'compromise' }),
          event({ time: ago(5), keys: ['JWT_SECRET'], source: 'audit', outcome: 'rolled-back' }),
        ],
        annotation: ago(1),
      }),
    );
    expect(s).toMatchObject({
      source: 'audit',
      lastRotated: ago(10).toISOString(),
      lastTrigger: 'compromise',
    });
    expect(s.ageMs).toBe(10 * DAY);
    expect(s.dueAt).toBe(new Date(ago(10).getTime() + 90 * DAY).toISOString());
    expect(s.dueInMs).toBe(80 * DAY);
  });

  it('falls back to the annotation when the audit log does not name the key', () => {
    const s = statusOf(
      'POSTGRES_PASSWORD',
      inputs({
        events: [event({ time: ago(3), keys: ['JWT_SECRET'], source: 'audit' })],
        annotation: ago(40),
      }),
    );
    expect(s).toMatchObject({ source: 'annotation', lastRotated: ago(40).toISOString() });
    expect(s.ageMs).toBe(40 * DAY);
  });

  it('prefers the annotation to the journal history, and takes the trigger of the rotation that wrote it', () => {
    const when = new Date('2026-05-20T10:00:00Z');
    const s = statusOf(
      'JWT_SECRET',
      inputs({
        events: [
          event({ time: ago(60), keys: ['JWT_SECRET'] }),
          event({ time: when, keys: ['JWT_SECRET', 'POSTGRES_PASSWORD'], trigger: 'release' }),
        ],
        annotation: when,
      }),
    );
    expect(s).toMatchObject({
      source: 'annotation',
      lastRotated: when.toISOString(),
      lastTrigger: 'release',
    });
  });

  it('does not date a key with the annotation of a partial rotation that left it out', () => {
    const partial = new Date('2026-05-30T09:00:00Z');
    const full = new Date('2026-02-01T09:00:00Z');
    const events = [
      event({ time: full, keys: ['JWT_SECRET', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD'] }),
      event({ time: partial, keys: ['JWT_SECRET'] }),
    ];
    // Without the backups: the journal history dates POSTGRES_PASSWORD.
    const s = statusOf('POSTGRES_PASSWORD', inputs({ events, annotation: partial }));
    expect(s).toMatchObject({ source: 'journal', lastRotated: full.toISOString() });
    // The partial rotation's backup holds the annotation from before it.
    const before = new Date('2025-12-01T00:00:00Z');
    const e = event({ time: partial, keys: ['JWT_SECRET'] });
    const chained = statusOf(
      'POSTGRES_PASSWORD',
      inputs({ events: [e], annotation: partial, annotationsBefore: new Map([[e.id, before]]) }),
    );
    expect(chained).toMatchObject({ source: 'annotation', lastRotated: before.toISOString() });
    // JWT_SECRET itself is dated by the annotation.
    expect(statusOf('JWT_SECRET', inputs({ events, annotation: partial })).source).toBe('annotation');
  });

  it('uses the journal history when there is neither audit record nor annotation', () => {
    const s = statusOf(
      'REDIS_PASSWORD',
      inputs({ events: [event({ time: ago(20), keys: ['REDIS_PASSWORD'], unattended: true })] }),
    );
    expect(s).toMatchObject({ source: 'journal', lastRotated: ago(20).toISOString(), state: 'ok' });
    expect(s.lastAttempt).toMatchObject({ outcome: 'rotated', unattended: true, trigger: 'scheduled' });
  });

  it('reports never rotated, overdue, when no source knows the key', () => {
    const s = statusOf('JWT_SECRET', inputs());
    expect(s).toMatchObject({ source: 'never', state: 'never-rotated', overdue: true, dueSoon: false });
    expect(s.ageMs).toBeUndefined();
    expect(s.lastRotated).toBeUndefined();
  });

  it('a rekey rollback undoes the rotation before it', () => {
    const events = [
      event({ time: ago(100), keys: ['JWT_SECRET'] }),
      event({ time: ago(2), keys: ['JWT_SECRET'] }),
      event({ time: ago(1), keys: ['JWT_SECRET'], kind: 'rollback', source: 'audit' }),
    ];
    const s = statusOf('JWT_SECRET', inputs({ events }));
    expect(s).toMatchObject({ source: 'journal', lastRotated: ago(100).toISOString(), state: 'overdue' });
    expect(s.lastAttempt).toMatchObject({ kind: 'rollback', outcome: 'rotated' });
  });
});

describe('states', () => {
  const at = (days: number, extra: Partial<PolicyInputs> = {}) =>
    inputs({ events: [event({ time: ago(days), keys: ['JWT_SECRET'] })], ...extra });

  it('ok, due soon, overdue around the due date (overdue from the due date on)', () => {
    expect(statusOf('JWT_SECRET', at(75.9))).toMatchObject({ state: 'ok', dueSoon: false, overdue: false });
    expect(statusOf('JWT_SECRET', at(76))).toMatchObject({
      state: 'due-soon',
      dueSoon: true,
      overdue: false,
    });
    expect(statusOf('JWT_SECRET', at(89.99))).toMatchObject({ state: 'due-soon' });
    expect(statusOf('JWT_SECRET', at(90))).toMatchObject({ state: 'overdue', overdue: true, dueSoon: false });
    expect(statusOf('JWT_SECRET', at(90)).dueInMs).toBe(0);
    expect(statusOf('JWT_SECRET', at(120)).dueInMs).toBe(-30 * DAY);
  });

  it('per-secret maxAge and warnBefore override the policy', () => {
    const config = statusConfig([secret('JWT_SECRET', 'jwt', { maxAge: '30d', warnBefore: '1d' })]);
    expect(statusOf('JWT_SECRET', at(28), config)).toMatchObject({ state: 'ok', maxAgeMs: 30 * DAY });
    expect(statusOf('JWT_SECRET', at(29.5), config).state).toBe('due-soon');
    expect(statusOf('JWT_SECRET', at(31), config).state).toBe('overdue');
  });

  it('rotation failing when the latest attempt rolled back, needs attention, or was interrupted', () => {
    for (const outcome of ['rolled-back', 'needs-attention', 'interrupted'] as const) {
      const s = statusOf(
        'JWT_SECRET',
        inputs({
          events: [
            event({ time: ago(10), keys: ['JWT_SECRET'] }),
            event({ time: ago(1), keys: ['JWT_SECRET'], outcome }),
          ],
        }),
      );
      expect(s.state).toBe('rotation-failing');
      expect(s.lastAttempt?.outcome).toBe(outcome);
      expect(s.lastRotated).toBe(ago(10).toISOString());
    }
    // A later success clears it; a running rotation is not a failure.
    const later = inputs({
      events: [
        event({ time: ago(3), keys: ['JWT_SECRET'], outcome: 'rolled-back' }),
        event({ time: ago(1), keys: ['JWT_SECRET'] }),
        event({ time: ago(0), keys: ['JWT_SECRET'], outcome: 'running' }),
      ],
    });
    expect(statusOf('JWT_SECRET', later).state).toBe('ok');
  });

  it('approval outstanding while a break-glass request waits for its approvals', () => {
    const s = statusOf('JWT_SECRET', at(1, { approvals: [{ requestId: 'req-1', keys: ['JWT_SECRET'] }] }));
    expect(s).toMatchObject({ state: 'approval-outstanding', approvalRequest: 'req-1', overdue: false });
    expect(
      statusOf('POSTGRES_PASSWORD', at(1, { approvals: [{ requestId: 'r', keys: ['JWT_SECRET'] }] })).state,
    ).toBe('never-rotated');
  });

  it('needs attention from the scheduler state, until a later successful rotation', () => {
    const schedule = {
      version: 1 as const,
      secrets: {
        POSTGRES_PASSWORD: {
          consecutiveFailures: 3,
          needsAttention: { since: ago(5).toISOString(), reason: '3 failed runs in a row' },
        },
      },
    };
    const before = statusOf(
      'POSTGRES_PASSWORD',
      inputs({ schedule, events: [event({ time: ago(95), keys: ['POSTGRES_PASSWORD'] })] }),
    );
    expect(before).toMatchObject({
      state: 'needs-attention',
      overdue: true,
      schedule: { consecutiveFailures: 3, needsAttention: { reason: '3 failed runs in a row' } },
    });
    const after = statusOf(
      'POSTGRES_PASSWORD',
      inputs({ schedule, events: [event({ time: ago(1), keys: ['POSTGRES_PASSWORD'] })] }),
    );
    expect(after.state).toBe('ok');
    expect(after.schedule?.needsAttention).toBeUndefined();
  });

  it('state precedence: needs attention > rotation failing > approval outstanding > age', () => {
    const schedule = {
      version: 1 as const,
      secrets: {
        JWT_SECRET: { consecutiveFailures: 3, needsAttention: { since: ago(1).toISOString(), reason: 'x' } },
      },
    };
    const failing = [event({ time: ago(100), keys: ['JWT_SECRET'], outcome: 'rolled-back' })];
    const approvals = [{ requestId: 'r', keys: ['JWT_SECRET'] }];
    expect(statusOf('JWT_SECRET', inputs({ schedule, events: failing, approvals })).state).toBe(
      'needs-attention',
    );
    expect(statusOf('JWT_SECRET', inputs({ events: failing, approvals })).state).toBe('rotation-failing');
    const s = statusOf('JWT_SECRET', inputs({ approvals }));
    expect(s).toMatchObject({ state: 'approval-outstanding', overdue: true });
  });

  it('release gate: releaseBlocked when older than policy.releaseMaxAge', () => {
    const config = statusConfig(SECRETS, { releaseMaxAge: '30d' });
    const report = computeStatus(config, at(31), NOW);
    expect(report.releaseMaxAgeMs).toBe(30 * DAY);
    expect(report.secrets.find((s) => s.key === 'JWT_SECRET')).toMatchObject({
      releaseBlocked: true,
      state: 'ok',
    });
    expect(report.secrets.find((s) => s.key === 'POSTGRES_PASSWORD')?.releaseBlocked).toBe(true); // never rotated
    expect(computeStatus(config, at(29), NOW).secrets[0]?.releaseBlocked).toBe(false);
    expect(computeStatus(statusConfig(), at(29), NOW).secrets[0]?.releaseBlocked).toBeUndefined();
  });

  it('marks unattended secrets and keeps config order', () => {
    const report = computeStatus(statusConfig(), inputs(), NOW);
    expect(report.secrets.map((s) => [s.key, s.type, s.unattended])).toEqual([
      ['JWT_SECRET', 'jwt', false],
      ['POSTGRES_PASSWORD', 'postgres', true],
      ['REDIS_PASSWORD', 'redis', true],
    ]);
    expect(report).toMatchObject({ stack: 'prod', now: NOW.toISOString() });
  });
});
