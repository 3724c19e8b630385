/** Audit records and archived journals into rotation events; the two merged. */
import { describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/governance/audit/types.js';
import { eventsFromAudit, eventsFromJournal, mergeEvents } from '../../src/policy/events.js';

let seq = 0;
function record(r: Partial<AuditRecord> & Pick<AuditRecord, 'kind' | 'outcome' | 'time'>): AuditRecord {
  seq++;
  return { seq, stack: 'prod', operator: 'alice', host: 'h', prev: '0'.repeat(64), ...r } as AuditRecord;
}
const secrets = (...keys: string[]) => keys.map((key) => ({ key, type: 'jwt', fingerprint: 'f' }));

describe('eventsFromAudit', () => {
  it('keeps rotations, rollbacks and recoveries; the newest record of an id wins', () => {
    const events = eventsFromAudit([
      record({ kind: 'request', outcome: 'recorded', time: '2026-01-01T00:00:00Z', secrets: secrets('A') }),
      record({
        kind: 'rotate',
        outcome: 'needs-attention',
        time: '2026-01-02T00:00:00Z',
        rotationId: 'r1',
        trigger: 'compromise',
        secrets: secrets('A', 'B'),
      }),
      record({
        kind: 'recover',
        outcome: 'rotated',
        time: '2026-01-02T05:00:00Z',
        rotationId: 'r1',
        secrets: secrets('A', 'B'),
      }),
      record({
        kind: 'rotate',
        outcome: 'rotated',
        time: '2026-01-03T00:00:00Z',
        rotationId: 'r2',
        trigger: 'scheduled',
        unattended: true,
        secrets: secrets('B'),
      }),
      record({
        kind: 'rollback',
        outcome: 'rotated',
        time: '2026-01-04T00:00:00Z',
        rotationId: 'r3',
        secrets: secrets('B'),
      }),
      record({ kind: 'rotate', outcome: 'refused', time: '2026-01-05T00:00:00Z', secrets: secrets('A') }),
      record({
        kind: 'rotate',
        outcome: 'rotated',
        time: 'not a date',
        rotationId: 'bad',
        secrets: secrets('A'),
      }),
    ]);
    expect(events.map((e) => [e.id, e.kind, e.outcome, e.keys.join(','), e.source])).toEqual([
      ['r1', 'rotate', 'rotated', 'A,B', 'audit'],
      ['r2', 'rotate', 'rotated', 'B', 'audit'],
      ['r3', 'rollback', 'rotated', 'B', 'audit'],
    ]);
    // The recovered rotation keeps the time its values were made.
    expect(events[0]?.time.toISOString()).toBe('2026-01-02T00:00:00.000Z');
    expect(events[1]).toMatchObject({ unattended: true, trigger: 'scheduled' });
  });
});

describe('eventsFromJournal and mergeEvents', () => {
  const history = [
    {
      id: 'r1',
      kind: 'rotate' as const,
      trigger: 'scheduled' as const,
      createdAt: '2026-01-02T00:00:00Z',
      outcome: 'rotated',
      targets: [{ key: 'A' }],
      meta: { unattended: true },
    },
    {
      id: 'r9',
      kind: 'rotate' as const,
      trigger: 'personnel' as const,
      createdAt: '2026-01-09T00:00:00Z',
      outcome: 'rolled-back',
      targets: [{ key: 'A' }, { key: 'B' }],
    },
  ];

  it('reads archived rotations with their outcome, trigger and unattended mark', () => {
    expect(
      eventsFromJournal(history).map((e) => [e.id, e.outcome, e.trigger, e.unattended ?? false]),
    ).toEqual([
      ['r1', 'rotated', 'scheduled', true],
      ['r9', 'rolled-back', 'personnel', false],
    ]);
  });

  it('an id in both is kept once, the audit one, with the journal’s unattended mark', () => {
    const audit = eventsFromAudit([
      record({
        kind: 'rotate',
        outcome: 'rotated',
        time: '2026-01-02T00:00:10Z',
        rotationId: 'r1',
        secrets: secrets('A'),
      }),
    ]);
    const merged = mergeEvents(audit, eventsFromJournal(history));
    expect(merged.map((e) => [e.id, e.source, e.unattended ?? false])).toEqual([
      ['r1', 'audit', true],
      ['r9', 'journal', false],
    ]);
  });
});
