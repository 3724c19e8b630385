/**
 * The data of policy and observability: rotation events read from disk (audit log, journal history,
 * a pending journal), and the status of each secret computed from them. Plain data, no values.
 */
import type { SecretType } from '../config/schema.js';
import type { RecordedTrigger } from '../config/triggers.js';

/** Where a rotation event, or a secret's last rotation, comes from. */
export type EventSource = 'audit' | 'journal';
export type AgeSource = EventSource | 'annotation' | 'never';

/**
 * What happened to a rotation: the engine's outcomes, plus `running` (a journal is pending and its
 * holder is alive) and `interrupted` (a journal is pending and nobody holds the lock: `rekey recover`).
 */
export type EventOutcome = 'rotated' | 'rolled-back' | 'needs-attention' | 'running' | 'interrupted';

/** One rotation (or `rekey rollback`, or the roll-forward of `rekey recover`), without any value. */
export interface RotationEvent {
  /** The rotation id (`20260101T030000Z-1a2b3c`); the same in the audit log and the journal. */
  readonly id: string;
  /** `rollback` is `rekey rollback`: the values of a backup put back, which undoes a rotation. */
  readonly kind: 'rotate' | 'rollback';
  /** When the new values were made (journal) or recorded (audit log). */
  readonly time: Date;
  readonly keys: readonly string[];
  readonly outcome: EventOutcome;
  readonly trigger?: RecordedTrigger;
  readonly source: EventSource;
  /** Run by `rekey schedule` under the config's standing approval. */
  readonly unattended?: boolean;
}

/** A change request still waiting for approvals (from the governance module). */
export interface OutstandingApproval {
  readonly requestId: string;
  readonly keys: readonly string[];
}

/** A break-glass request still waiting for its approvals, and when it was made (ISO 8601). */
export interface AwaitingBreakGlass extends OutstandingApproval {
  readonly time: string;
  /** The rotation it authorized, once one ran. */
  readonly rotationId?: string;
}

/** What `rekey schedule` remembers about one secret (`<stateDir>/schedule.json`). */
export interface SecretScheduleState {
  /** Scheduled runs in a row that did not rotate the secret (retries included in one run). */
  consecutiveFailures: number;
  lastAttemptAt?: string;
  lastSuccessAt?: string;
  lastError?: { code: string; message: string };
  /** Set after `maxFailures` failed runs (or an engine outcome needing a human): no more attempts. */
  needsAttention?: { since: string; reason: string; kind?: AttentionKind };
}

/**
 * Why the scheduler stopped: `auth` a service rejected the credential (never retried: Grafana locks a
 * user out after 5 failed logins in 5 minutes), `failures` `maxFailures` failed runs in a row,
 * `inconsistent` an outcome rekey could not repair (exit 4). Absent in files written before it existed.
 */
export const ATTENTION_KINDS = ['auth', 'failures', 'inconsistent'] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

export interface ScheduleFile {
  version: 1;
  updatedAt?: string;
  lastRun?: { at: string; rotated: string[]; failed: string[] };
  secrets: Record<string, SecretScheduleState>;
}

/** Everything the status computation reads, gathered from disk by `readPolicyInputs`. */
export interface PolicyInputs {
  /** Audit log and journal events, merged (an id in both is kept once, the audit log's). */
  readonly events: readonly RotationEvent[];
  /** The env file's `# LastSecretRotation:` time, if any. */
  readonly annotation?: Date;
  /**
   * Per rotation id (journal history), the annotation the env file held before it: read from the
   * backup the rotation wrote, while that backup is still on disk.
   */
  readonly annotationsBefore?: ReadonlyMap<string, Date>;
  readonly approvals: readonly OutstandingApproval[];
  readonly schedule: ScheduleFile;
  /** Problems met while reading (an unreadable audit line); shown as warnings, never fatal. */
  readonly warnings: readonly string[];
}

export const SECRET_STATES = [
  'ok',
  'due-soon',
  'overdue',
  'never-rotated',
  'approval-outstanding',
  'rotation-failing',
  'needs-attention',
] as const;
export type SecretState = (typeof SECRET_STATES)[number];

export interface SecretStatus {
  readonly key: string;
  readonly type: SecretType;
  /** `unattended: true` in rekey.yaml: `rekey schedule` may rotate it. */
  readonly unattended: boolean;
  readonly maxAgeMs: number;
  readonly warnBeforeMs: number;
  /** ISO time of the last successful rotation, or undefined when never rotated. */
  readonly lastRotated?: string;
  readonly source: AgeSource;
  /** Trigger of the last successful rotation, when the source knows it. */
  readonly lastTrigger?: RecordedTrigger;
  readonly ageMs?: number;
  /** lastRotated + maxAge. */
  readonly dueAt?: string;
  /** Negative when overdue. */
  readonly dueInMs?: number;
  /** Age reached maxAge, or never rotated (age unknown: treated as overdue by `check`). */
  readonly overdue: boolean;
  /** Within warnBefore of the due date (and not overdue). */
  readonly dueSoon: boolean;
  /** Older than policy.releaseMaxAge (or never rotated); undefined without releaseMaxAge. */
  readonly releaseBlocked?: boolean;
  readonly state: SecretState;
  /** The newest attempt naming the secret, whatever its outcome. */
  readonly lastAttempt?: {
    readonly id: string;
    /** `rollback`: a `rekey rollback` (values put back from a backup), not a rotation. */
    readonly kind: RotationEvent['kind'];
    readonly at: string;
    readonly outcome: EventOutcome;
    readonly trigger?: RecordedTrigger;
    readonly unattended?: boolean;
  };
  readonly approvalRequest?: string;
  readonly schedule?: {
    readonly consecutiveFailures: number;
    readonly needsAttention?: {
      readonly since: string;
      readonly reason: string;
      readonly kind?: AttentionKind;
    };
    readonly lastError?: { readonly code: string; readonly message: string };
  };
}

export interface StatusReport {
  readonly stack: string;
  readonly now: string;
  readonly releaseMaxAgeMs?: number;
  readonly secrets: readonly SecretStatus[];
  readonly warnings: readonly string[];
}
