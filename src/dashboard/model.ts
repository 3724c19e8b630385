/**
 * What the dashboard shows, as plain data (the page and `/api/*` render the same documents): each
 * secret's status as `rekey status` computes it (src/policy/), the rotations of the last year and the
 * audit chain's verdict as `rekey report` builds them (src/report/), their steps and timings from the
 * audit log, and the change requests still waiting for approvals (src/governance/). Nothing here is
 * computed a second time; never a value, never a value's fingerprint.
 */
import { DEFAULT_CONFIG, type StackConfig } from '../config/load.js';
import { requestsOverview } from '../governance/approvals/index.js';
import type { FileCache } from '../policy/file-cache.js';
import { readPolicyInputs, statusConfigOf } from '../policy/inputs.js';
import type { PendingNames } from '../policy/pending.js';
import { auditRecords, governanceView } from '../policy/sources.js';
import { computeStatus } from '../policy/status.js';
import type { SecretState, SecretStatus } from '../policy/types.js';
import { buildReport, type EvidenceReport, type ReportRotation } from '../report/index.js';

const DAY = 86_400_000;
/** How far back the timeline and the charts look. */
export const WINDOW_DAYS = 365;

/**
 * The five states the page shows (`data-state` of a secret's row). `rotating`: a rotation holds the
 * lock now; `needs-attention`: the scheduler gave up, the last attempt failed (rolled back,
 * interrupted) or a break-glass rotation awaits its approvals; then `overdue` (or never rotated),
 * `due-soon`, `ok`. The finer state of `rekey status` is kept in `status`.
 */
export const DISPLAY_STATES = ['ok', 'due-soon', 'overdue', 'needs-attention', 'rotating'] as const;
export type DisplayState = (typeof DISPLAY_STATES)[number];

export interface DashboardSecret {
  readonly key: string;
  readonly type: string;
  readonly state: DisplayState;
  /** The state of `rekey status` (`never-rotated`, `rotation-failing`, …). */
  readonly status: SecretState;
  readonly lastRotated?: string;
  readonly ageDays?: number;
  readonly maxAgeDays: number;
  readonly warnBeforeDays: number;
  readonly dueAt?: string;
  /** Negative when overdue. */
  readonly dueInDays?: number;
  readonly lastTrigger?: string;
  /** The newest attempt naming the secret, whatever its outcome. */
  readonly lastAttempt?: {
    readonly id: string;
    readonly kind: string;
    readonly at: string;
    readonly outcome: string;
    readonly trigger?: string;
  };
  /** Why the scheduler stopped trying, when it did. */
  readonly attention?: string;
  readonly approvalRequest?: string;
}

export interface DashboardStep {
  readonly id: string;
  readonly state: string;
  readonly ms?: number;
}

export interface DashboardRotation extends ReportRotation {
  /** The secrets it named. */
  readonly keys: readonly string[];
  /** Its steps in order, with their timings (from the audit log). */
  readonly steps: readonly DashboardStep[];
  /** The sum of the steps' timings. */
  readonly durationMs?: number;
}

export interface DashboardRequest {
  readonly id: string;
  readonly status: string;
  readonly keys: readonly string[];
  readonly trigger: string;
  readonly ticket?: string;
  readonly requester: string;
  readonly created: string;
  readonly expires: string;
  readonly breakGlass?: string;
  readonly rotationId?: string;
  readonly approvals: ReadonlyArray<{ role: string; principal: string }>;
  readonly missing: ReadonlyArray<{ role: string; why: string }>;
  /** The exact commands that collect the missing approvals, one per role. */
  readonly commands: readonly string[];
}

export interface DashboardStatus {
  readonly version: 1;
  readonly stack: string;
  readonly now: string;
  readonly secrets: readonly DashboardSecret[];
  readonly audit: EvidenceReport['audit'];
  readonly requests: readonly DashboardRequest[];
  readonly warnings: readonly string[];
}

export interface PolicyInterval {
  /** When the rotation that ended the interval ran. */
  readonly time: string;
  /** Days since the secret's previous successful rotation. */
  readonly days: number;
}

export interface DashboardRotations {
  readonly version: 1;
  readonly stack: string;
  readonly now: string;
  readonly from: string;
  /** Newest first. */
  readonly rotations: readonly DashboardRotation[];
  /** Per secret: time-to-rotate against its max age over the window (the report's figures). */
  readonly policy: ReadonlyArray<{
    readonly key: string;
    readonly maxAgeDays: number;
    readonly longestGapDays: number;
    /** The longest interval starts at the window's start: no successful rotation before it is recorded. */
    readonly fromWindowStart: boolean;
    readonly policyMet: boolean;
    /**
     * Not met only because of the interval from the window's start (no rotation recorded before it,
     * so the secret's age then is not known), every interval since its first recorded rotation within
     * max age: shown as "not proven", neither met nor missed on record.
     */
    readonly notProven: boolean;
    readonly intervals: readonly PolicyInterval[];
  }>;
}

export interface Dashboard {
  readonly status: DashboardStatus;
  readonly rotations: DashboardRotations;
}

export interface DashboardCaches {
  readonly annotations?: FileCache<Date | undefined>;
  readonly pending?: FileCache<PendingNames>;
}

const days = (ms: number) => Math.round((ms / DAY) * 10) / 10;

/**
 * The display state of a secret's status (see {@link DISPLAY_STATES}).
 *
 * @example
 * displayState({ state: 'never-rotated', overdue: true, dueSoon: false }); // 'overdue'
 */
export function displayState(
  s: Pick<SecretStatus, 'state' | 'overdue' | 'dueSoon' | 'lastAttempt'>,
): DisplayState {
  if (s.lastAttempt?.outcome === 'running') return 'rotating';
  if (s.state === 'needs-attention' || s.state === 'rotation-failing' || s.state === 'approval-outstanding')
    return 'needs-attention';
  if (s.overdue) return 'overdue';
  if (s.dueSoon) return 'due-soon';
  return 'ok';
}

function secretOf(s: SecretStatus): DashboardSecret {
  const a = s.lastAttempt;
  return {
    key: s.key,
    type: s.type,
    state: displayState(s),
    status: s.state,
    ...(s.lastRotated ? { lastRotated: s.lastRotated } : {}),
    ...(s.ageMs !== undefined ? { ageDays: days(s.ageMs) } : {}),
    maxAgeDays: days(s.maxAgeMs),
    warnBeforeDays: days(s.warnBeforeMs),
    ...(s.dueAt ? { dueAt: s.dueAt } : {}),
    ...(s.dueInMs !== undefined ? { dueInDays: days(s.dueInMs) } : {}),
    ...(s.lastTrigger ? { lastTrigger: s.lastTrigger } : {}),
    ...(a
      ? {
          lastAttempt: {
            id: a.id,
            kind: a.kind,
            at: a.at,
            outcome: a.outcome,
            ...(a.trigger ? { trigger: a.trigger } : {}),
          },
        }
      : {}),
    ...(s.schedule?.needsAttention ? { attention: s.schedule.needsAttention.reason } : {}),
    ...(s.approvalRequest ? { approvalRequest: s.approvalRequest } : {}),
  };
}

/** A word as a shell reads it: bare when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./~-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

const OUTSTANDING = new Set(['pending', 'approval outstanding']);

async function outstandingRequests(
  stack: StackConfig,
  now: Date,
  configPath: string | undefined,
): Promise<DashboardRequest[]> {
  if (stack.config.approvals === undefined) return [];
  const config =
    configPath === undefined || configPath === DEFAULT_CONFIG ? '' : ` --config ${shellWord(configPath)}`;
  return (await requestsOverview(governanceView(stack), now))
    .filter((r) => OUTSTANDING.has(r.status))
    .map((r) => ({
      id: r.id,
      status: r.status,
      keys: r.keys,
      trigger: r.trigger,
      ...(r.ticket ? { ticket: r.ticket } : {}),
      requester: r.requester,
      created: r.created,
      expires: r.expires,
      ...(r.breakGlass ? { breakGlass: r.breakGlass } : {}),
      ...(r.rotationId ? { rotationId: r.rotationId } : {}),
      approvals: r.approvals.map((a) => ({ role: a.role, principal: a.principal })),
      missing: r.missing.map((m) => ({ role: m.role, why: m.why })),
      commands: r.missing.map((m) => `rekey approve ${shellWord(r.id)} --role ${shellWord(m.role)}${config}`),
    }));
}

const rotationKey = (r: { kind: string; time: string; rotationId?: string }) =>
  `${r.kind}\u0000${r.time}\u0000${r.rotationId ?? ''}`;

/**
 * The report's rotations, one per audit record (a rotation of three secrets is listed under each of
 * them), with the secrets it named and its steps, newest first.
 */
async function timeline(stack: StackConfig, report: EvidenceReport): Promise<DashboardRotation[]> {
  const steps = new Map<string, DashboardStep[]>();
  for (const r of await auditRecords(stack)) {
    if (r.phases === undefined) continue;
    steps.set(
      rotationKey(r),
      r.phases.map((p) => ({ id: p.id, state: p.state, ...(typeof p.ms === 'number' ? { ms: p.ms } : {}) })),
    );
  }
  const byRecord = new Map<string, { rotation: ReportRotation; keys: string[] }>();
  for (const s of report.secrets) {
    for (const r of s.rotations) {
      const k = rotationKey(r);
      const seen = byRecord.get(k);
      if (seen) seen.keys.push(s.key);
      else byRecord.set(k, { rotation: r, keys: [s.key] });
    }
  }
  return [...byRecord.entries()]
    .map(([k, { rotation, keys }]) => {
      const st = steps.get(k) ?? [];
      const timed = st.filter((p) => p.ms !== undefined);
      return {
        ...rotation,
        keys,
        steps: st,
        ...(timed.length > 0 ? { durationMs: timed.reduce((n, p) => n + (p.ms ?? 0), 0) } : {}),
      };
    })
    .sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || b.kind.localeCompare(a.kind));
}

function policyOf(report: EvidenceReport, now: Date): DashboardRotations['policy'] {
  return report.secrets.map((s) => {
    const times = s.rotations
      .filter((r) => r.outcome === 'rotated' && r.kind !== 'rollback')
      .map((r) => Date.parse(r.time))
      .sort((a, b) => a - b);
    const intervals: PolicyInterval[] = [];
    for (let i = 1; i < times.length; i++) {
      const t = times[i] ?? 0;
      intervals.push({ time: new Date(t).toISOString(), days: days(t - (times[i - 1] ?? t)) });
    }
    const last = times.at(-1);
    const sinceFirst =
      last !== undefined &&
      intervals.every((i) => i.days <= s.maxAgeDays) &&
      days(now.getTime() - last) <= s.maxAgeDays;
    return {
      key: s.key,
      maxAgeDays: s.maxAgeDays,
      longestGapDays: s.longestGap.days,
      fromWindowStart: s.longestGap.fromPeriodStart,
      policyMet: s.policyMet,
      notProven: !s.policyMet && s.longestGap.fromPeriodStart && sinceFirst,
      intervals,
    };
  });
}

export interface BuildOptions {
  readonly now?: Date;
  /** The config path `rekey serve` was given, repeated in the `rekey approve` commands. */
  readonly configPath?: string;
  readonly caches?: DashboardCaches;
}

/**
 * Reads the state on disk and builds both documents of the dashboard.
 *
 * @example
 * const { status, rotations } = await buildDashboard(await new ServeConfig('rekey.yaml').load());
 * status.secrets.filter((s) => s.state === 'overdue').map((s) => s.key);
 */
export async function buildDashboard(stack: StackConfig, options: BuildOptions = {}): Promise<Dashboard> {
  const now = options.now ?? new Date();
  const from = new Date(now.getTime() - WINDOW_DAYS * DAY);
  const [inputs, report, requests] = await Promise.all([
    readPolicyInputs(stack, {
      ...(options.caches?.annotations ? { annotations: options.caches.annotations } : {}),
      ...(options.caches?.pending ? { pending: options.caches.pending } : {}),
    }),
    buildReport(governanceView(stack), { from, to: new Date(now.getTime() + 1) }, now),
    outstandingRequests(stack, now, options.configPath),
  ]);
  const status = computeStatus(statusConfigOf(stack), inputs, now);
  return {
    status: {
      version: 1,
      stack: stack.stack,
      now: now.toISOString(),
      secrets: status.secrets.map(secretOf),
      audit: report.audit,
      requests,
      warnings: status.warnings,
    },
    rotations: {
      version: 1,
      stack: stack.stack,
      now: now.toISOString(),
      from: from.toISOString(),
      rotations: await timeline(stack, report),
      policy: policyOf(report, now),
    },
  };
}
