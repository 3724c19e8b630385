/**
 * The status of every secret, in pure code: from the config, the events and state read from disk,
 * and the time now, each secret's last rotation, age, due date and state. Reads nothing, writes
 * nothing, takes the clock as an argument (so tests pin it).
 *
 * A secret's last rotation comes from, in order:
 * 1. the audit log: its newest successful rotation naming the key;
 * 2. the env file's `# LastSecretRotation:` annotation; when rekey's own records show it was written
 *    by a rotation (or `rekey rollback`) that left this key out (`--only`), the annotation that
 *    rotation's backup holds, and so on back; none when a `rekey rollback` of this key wrote it;
 * 3. the journal history (archived rotations in the state directory);
 * 4. else "never rotated".
 * A `rekey rollback` undoes the rotation before it: the secret's age is again that of the rotation
 * before that one.
 */
import { ms } from '../config/load.js';
import type { ParsedConfig, SecretConfig } from '../config/schema.js';
import { formatBackupTime } from '../envfile/index.js';
import type {
  AgeSource,
  PolicyInputs,
  RotationEvent,
  SecretState,
  SecretStatus,
  StatusReport,
} from './types.js';

export interface StatusConfig {
  readonly stack: string;
  readonly policy: ParsedConfig['policy'];
  readonly secrets: readonly SecretConfig[];
}

/**
 * Computes every secret's status at `now`.
 *
 * @example
 * const report = computeStatus({ stack, policy, secrets }, inputs, new Date('2026-03-01T00:00:00Z'));
 * report.secrets[0]?.state; // 'overdue'
 */
export function computeStatus(config: StatusConfig, inputs: PolicyInputs, now: Date): StatusReport {
  const releaseMaxAgeMs = config.policy.releaseMaxAge ? ms(config.policy.releaseMaxAge) : undefined;
  return {
    stack: config.stack,
    now: now.toISOString(),
    ...(releaseMaxAgeMs === undefined ? {} : { releaseMaxAgeMs }),
    secrets: config.secrets.map((s) => secretStatus(s, config, inputs, now, releaseMaxAgeMs)),
    warnings: inputs.warnings,
  };
}

function secretStatus(
  secret: SecretConfig,
  config: StatusConfig,
  inputs: PolicyInputs,
  now: Date,
  releaseMaxAgeMs: number | undefined,
): SecretStatus {
  const maxAgeMs = ms(secret.maxAge ?? config.policy.maxAge);
  const warnBeforeMs = ms(secret.warnBefore ?? config.policy.warnBefore);
  const last = lastRotation(secret.key, inputs);
  const attempt = lastAttempt(secret.key, inputs.events);
  const sched = inputs.schedule.secrets[secret.key];
  const attention =
    sched?.needsAttention && !(last && last.time.getTime() > Date.parse(sched.needsAttention.since))
      ? sched.needsAttention
      : undefined;
  const approval = inputs.approvals.find((a) => a.keys.includes(secret.key));

  const ageMs = last ? Math.max(0, now.getTime() - last.time.getTime()) : undefined;
  const overdue = ageMs === undefined || ageMs >= maxAgeMs;
  const dueSoon = !overdue && ageMs >= maxAgeMs - warnBeforeMs;
  const failing =
    attempt !== undefined &&
    (attempt.outcome === 'rolled-back' ||
      attempt.outcome === 'needs-attention' ||
      attempt.outcome === 'interrupted');

  let state: SecretState;
  if (attention) state = 'needs-attention';
  else if (failing) state = 'rotation-failing';
  else if (approval) state = 'approval-outstanding';
  else if (last === undefined) state = 'never-rotated';
  else if (overdue) state = 'overdue';
  else if (dueSoon) state = 'due-soon';
  else state = 'ok';

  return {
    key: secret.key,
    type: secret.type,
    unattended: secret.unattended === true,
    maxAgeMs,
    warnBeforeMs,
    source: last?.source ?? 'never',
    ...(last
      ? {
          lastRotated: last.time.toISOString(),
          ...(last.trigger ? { lastTrigger: last.trigger } : {}),
          ageMs,
          dueAt: new Date(last.time.getTime() + maxAgeMs).toISOString(),
          dueInMs: last.time.getTime() + maxAgeMs - now.getTime(),
        }
      : {}),
    overdue,
    dueSoon,
    ...(releaseMaxAgeMs === undefined
      ? {}
      : { releaseBlocked: ageMs === undefined || ageMs >= releaseMaxAgeMs }),
    state,
    ...(attempt
      ? {
          lastAttempt: {
            id: attempt.id,
            kind: attempt.kind,
            at: attempt.time.toISOString(),
            outcome: attempt.outcome,
            ...(attempt.trigger ? { trigger: attempt.trigger } : {}),
            ...(attempt.unattended ? { unattended: true } : {}),
          },
        }
      : {}),
    ...(approval ? { approvalRequest: approval.requestId } : {}),
    ...(sched
      ? {
          schedule: {
            consecutiveFailures: sched.consecutiveFailures,
            ...(attention ? { needsAttention: attention } : {}),
            ...(sched.lastError ? { lastError: sched.lastError } : {}),
          },
        }
      : {}),
  };
}

interface LastRotation {
  readonly time: Date;
  readonly source: AgeSource;
  readonly trigger?: RotationEvent['trigger'];
}

/**
 * The secret's last successful rotation, from the first source that knows it (see the file comment).
 *
 * @example
 * lastRotation('JWT_SECRET', inputs)?.source; // 'audit' | 'annotation' | 'journal'
 */
export function lastRotation(key: string, inputs: PolicyInputs): LastRotation | undefined {
  // One replay over both record sources, so a rollback recorded in one undoes a rotation in the other.
  const recorded = lastRotated(key, inputs.events);
  if (recorded?.source === 'audit') return recorded;
  return fromAnnotation(key, inputs) ?? recorded;
}

/**
 * Replays successful rotations of `key` in time order: a rotation pushes its time, a `rekey rollback`
 * pops the newest (its values are those from before it).
 */
function lastRotated(key: string, events: readonly RotationEvent[]): LastRotation | undefined {
  const stack: RotationEvent[] = [];
  for (const e of [...events].sort(byTime)) {
    if (e.outcome !== 'rotated' || !e.keys.includes(key)) continue;
    if (e.kind === 'rollback') stack.pop();
    else stack.push(e);
  }
  const e = stack.at(-1);
  if (e === undefined) return undefined;
  return { time: e.time, source: e.source, ...(e.trigger ? { trigger: e.trigger } : {}) };
}

/**
 * The annotation as a date for `key`. An annotation written by a partial rotation (`--only`) that left
 * the key out dates another secret: the annotation before that rotation (in its backup) is tried
 * instead, and so on back. One written by a `rekey rollback` of the key dates nothing (the replay of
 * the records decides).
 */
function fromAnnotation(key: string, inputs: PolicyInputs): LastRotation | undefined {
  let when = inputs.annotation;
  for (let hops = 0; when !== undefined && hops < 1000; hops++) {
    const stamp = formatBackupTime(when);
    const writers = inputs.events.filter((e) => e.outcome === 'rotated' && e.id.startsWith(`${stamp}-`));
    if (writers.length === 0) return { time: when, source: 'annotation' };
    const own = writers.find((e) => e.keys.includes(key));
    if (own?.kind === 'rollback') return undefined;
    if (own) return { time: when, source: 'annotation', ...(own.trigger ? { trigger: own.trigger } : {}) };
    when = writers.map((e) => inputs.annotationsBefore?.get(e.id)).find((d) => d !== undefined);
  }
  return undefined;
}

/** The newest event naming the key, whatever its outcome. */
function lastAttempt(key: string, events: readonly RotationEvent[]): RotationEvent | undefined {
  return [...events]
    .sort(byTime)
    .filter((e) => e.keys.includes(key))
    .at(-1);
}

function byTime(a: RotationEvent, b: RotationEvent): number {
  return a.time.getTime() - b.time.getTime() || a.id.localeCompare(b.id);
}
