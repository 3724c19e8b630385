/**
 * Prometheus metrics (prom-client), computed from the state on disk at each scrape: a fresh Registry
 * per scrape holds gauges set from the status report and counters set from the rotation events, so
 * two rekey processes (or a restart) can never disagree about a total. Values never appear: only key
 * names, types, triggers and outcomes.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import { TRIGGERS } from '../config/schema.js';
import type { NotifyFailureCount } from '../notify/index.js';

/** Every trigger a rotation (not a rollback) is recorded with: the CLI's choices and `manual`. */
const ROTATION_TRIGGERS = [...TRIGGERS, 'manual'] as const;

import { ATTENTION_KINDS, type RotationEvent, SECRET_STATES, type StatusReport } from './types.js';

/** The metric names, for the dashboard, the alert rules and the tests. */
export const METRICS = {
  age: 'rekey_secret_age_seconds',
  maxAge: 'rekey_secret_max_age_seconds',
  overdue: 'rekey_secret_overdue',
  dueSoon: 'rekey_secret_due_soon',
  state: 'rekey_secret_state',
  needsAttention: 'rekey_secret_needs_attention',
  needsAttentionReason: 'rekey_secret_needs_attention_reason',
  scheduleFailures: 'rekey_schedule_consecutive_failures',
  lastRotation: 'rekey_last_rotation_timestamp_seconds',
  rotations: 'rekey_rotations_total',
  notificationsFailed: 'rekey_notifications_failed_total',
} as const;

const SECRET_LABELS = ['stack', 'key', 'type'] as const;
const FINAL_OUTCOMES = ['rotated', 'rolled-back', 'needs-attention'] as const;

/**
 * A registry holding every rekey metric for one stack, as of the report and events given.
 *
 * @example
 * const registry = buildRegistry(report, inputs.events, await countFailures(loaded.stateDir));
 * const text = await registry.metrics(); // Prometheus text format, registry.contentType
 */
export function buildRegistry(
  report: StatusReport,
  events: readonly RotationEvent[],
  notifyFailures: readonly NotifyFailureCount[] = [],
): Registry {
  const registers = [new Registry()];
  const registry = registers[0]!;
  const gauge = (name: string, help: string) =>
    new Gauge({ name, help, labelNames: SECRET_LABELS, registers });

  const age = gauge(METRICS.age, 'Seconds since the secret was last rotated (absent when never rotated).');
  const maxAge = gauge(METRICS.maxAge, 'The policy maximum age of the secret, in seconds.');
  const overdue = gauge(METRICS.overdue, '1 when the secret is older than its maximum age or never rotated.');
  const dueSoon = gauge(METRICS.dueSoon, '1 when the secret is within policy warnBefore of its due date.');
  const needsAttention = gauge(
    METRICS.needsAttention,
    '1 when rekey schedule stopped rotating the secret after repeated failures.',
  );
  const failures = gauge(
    METRICS.scheduleFailures,
    'Scheduled runs in a row that failed to rotate the secret.',
  );
  const attentionReason = new Gauge({
    name: METRICS.needsAttentionReason,
    help: 'Why rekey schedule stopped rotating the secret: 1 for the reason (auth: the service rejected the credential, never retried; failures: repeated failed runs; inconsistent: an outcome rekey could not repair; other: recorded by an older rekey), 0 for the others.',
    labelNames: [...SECRET_LABELS, 'reason'] as const,
    registers,
  });
  const state = new Gauge({
    name: METRICS.state,
    help: '1 for the current state of the secret (as rekey status shows it), 0 for the others.',
    labelNames: [...SECRET_LABELS, 'state'] as const,
    registers,
  });

  for (const s of report.secrets) {
    const labels = { stack: report.stack, key: s.key, type: s.type };
    if (s.ageMs !== undefined) age.set(labels, s.ageMs / 1000);
    maxAge.set(labels, s.maxAgeMs / 1000);
    overdue.set(labels, s.overdue ? 1 : 0);
    dueSoon.set(labels, s.dueSoon ? 1 : 0);
    needsAttention.set(labels, s.schedule?.needsAttention ? 1 : 0);
    const attention = s.schedule?.needsAttention;
    const why = attention ? (attention.kind ?? 'other') : undefined;
    for (const reason of [...ATTENTION_KINDS, 'other'])
      attentionReason.set({ ...labels, reason }, why === reason ? 1 : 0);
    failures.set(labels, s.schedule?.consecutiveFailures ?? 0);
    for (const st of SECRET_STATES) state.set({ ...labels, state: st }, s.state === st ? 1 : 0);
  }

  const last = new Gauge({
    name: METRICS.lastRotation,
    help: 'Unix time of the newest rotation of the stack with this outcome.',
    labelNames: ['stack', 'outcome'] as const,
    registers,
  });
  const total = new Counter({
    name: METRICS.rotations,
    help: 'Rotations recorded in the audit log and journal history, by trigger and outcome.',
    labelNames: ['stack', 'trigger', 'outcome'] as const,
    registers,
  });
  for (const trigger of ROTATION_TRIGGERS) {
    for (const outcome of FINAL_OUTCOMES) total.inc({ stack: report.stack, trigger, outcome }, 0);
  }
  const newest = new Map<string, number>();
  for (const e of events) {
    if (e.kind !== 'rotate' || e.outcome === 'running') continue;
    total.inc({ stack: report.stack, trigger: e.trigger ?? 'unknown', outcome: e.outcome });
    newest.set(e.outcome, Math.max(newest.get(e.outcome) ?? 0, e.time.getTime()));
  }
  for (const [outcome, t] of newest) last.set({ stack: report.stack, outcome }, t / 1000);

  const failed = new Counter({
    name: METRICS.notificationsFailed,
    help: 'Webhook notifications given up on (after every retry, or with an unreadable HMAC key), by event and webhook origin; recorded in <stateDir>/notify-failures.jsonl.',
    labelNames: ['stack', 'event', 'origin'] as const,
    registers,
  });
  for (const f of notifyFailures)
    failed.inc({ stack: report.stack, event: f.event, origin: f.origin }, f.count);
  return registry;
}
