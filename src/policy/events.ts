/**
 * Rotation events from the audit log and the journal history, in one shape (pure: records in,
 * events out). An id found in both is kept once: the audit log's newest record for it, with what
 * only the journal knows (`unattended`) filled in.
 */
import { type RecordedTrigger, recordedTrigger } from '../config/triggers.js';
import type { AuditRecord } from '../governance/audit/types.js';
import type { EventOutcome, RotationEvent } from './types.js';

/** The parts of an archived journal (`JournalStore.history()`) that policy reads. */
export interface ArchivedRotation {
  readonly id: string;
  readonly kind: 'rotate' | 'rollback';
  readonly trigger: RecordedTrigger;
  readonly createdAt: string;
  readonly outcome: string;
  /** The backup of the old env file (version 1; version 2 names it `backupFile`: `journalBackupFile`). */
  readonly backupPath?: string;
  readonly backupFile?: string;
  readonly targets: ReadonlyArray<{ readonly key: string }>;
  readonly meta?: { readonly unattended?: unknown; readonly recordedTrigger?: unknown };
}

const OUTCOMES: ReadonlySet<string> = new Set(['rotated', 'rolled-back', 'needs-attention']);

/**
 * Events of the audit log's rotate, recover and rollback records (requests and approvals are not
 * rotations). A recover record closes the rotation it names, so the newest record of an id wins.
 *
 * @example
 * eventsFromAudit(records).map((e) => e.outcome); // ['rotated', 'rolled-back']
 */
export function eventsFromAudit(records: readonly AuditRecord[]): RotationEvent[] {
  const byId = new Map<string, RotationEvent>();
  for (const r of records) {
    if (r.kind !== 'rotate' && r.kind !== 'recover' && r.kind !== 'rollback') continue;
    if (!OUTCOMES.has(r.outcome) || !Array.isArray(r.secrets)) continue;
    const time = new Date(r.time);
    if (Number.isNaN(time.getTime())) continue;
    const id = r.rotationId ?? `audit-${r.seq}`;
    const earlier = byId.get(id);
    const unattended = r.unattended === true;
    byId.set(id, {
      id,
      kind: r.kind === 'rollback' ? 'rollback' : (earlier?.kind ?? 'rotate'),
      time: earlier?.time ?? time,
      keys: r.secrets.map((s) => s.key),
      outcome: r.outcome as EventOutcome,
      ...(r.trigger ? { trigger: r.trigger } : {}),
      source: 'audit',
      ...(unattended ? { unattended } : {}),
    });
  }
  return [...byId.values()];
}

/**
 * Events of the journal history (archived rotations, values removed by the engine).
 *
 * @example
 * eventsFromJournal(await new JournalStore(stateDir).history());
 */
export function eventsFromJournal(history: readonly ArchivedRotation[]): RotationEvent[] {
  const out: RotationEvent[] = [];
  for (const h of history) {
    const time = new Date(h.createdAt);
    if (!OUTCOMES.has(h.outcome) || Number.isNaN(time.getTime()) || !Array.isArray(h.targets)) continue;
    out.push({
      id: h.id,
      kind: h.kind === 'rollback' ? 'rollback' : 'rotate',
      time,
      keys: h.targets.map((t) => t.key),
      outcome: h.outcome as EventOutcome,
      trigger: recordedTrigger(h),
      source: 'journal',
      ...(h.meta?.unattended === true ? { unattended: true } : {}),
    });
  }
  return out;
}

/**
 * Audit events, then journal events whose id the audit log does not hold, oldest first.
 *
 * @example
 * mergeEvents(eventsFromAudit(records), eventsFromJournal(history));
 */
export function mergeEvents(
  audit: readonly RotationEvent[],
  journal: readonly RotationEvent[],
): RotationEvent[] {
  const fromJournal = new Map(journal.map((e) => [e.id, e]));
  const seen = new Set(audit.map((e) => e.id));
  const merged = [
    ...audit.map((e) =>
      fromJournal.get(e.id)?.unattended && !e.unattended ? { ...e, unattended: true } : e,
    ),
    ...journal.filter((e) => !seen.has(e.id)),
  ];
  return merged.sort((a, b) => a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id));
}
