/**
 * The evidence report of a period (`rekey report`, DESIGN.md "doctor, serve, report, notify"): for
 * each secret its rotations (when, trigger, operator, approvers with key fingerprints, ticket, the
 * validation table including "old credential rejected", outcome), the longest interval between
 * successful rotations against its max age, break-glass uses and when their approvals came, and the
 * audit chain's verification with its head hash. Read from the audit log only (every fact of a
 * rotation is recorded there); never a value and never a value's fingerprint.
 */
import { type LoadedConfig, ms } from '../config/load.js';
import {
  type AuditRecord,
  auditFileOf,
  readAuditLog,
  stackRecords,
  verifyAuditLog,
} from '../governance/audit/index.js';

const DAY = 86_400_000;

export interface ReportPeriod {
  /** Inclusive. */
  readonly from: Date;
  /** Exclusive. */
  readonly to: Date;
}

export interface ReportRotation {
  readonly time: string;
  readonly rotationId?: string;
  readonly kind: string;
  readonly trigger?: string;
  readonly operator: string;
  readonly ticket?: string;
  readonly requestId?: string;
  readonly unattended?: boolean;
  readonly breakGlass?: string;
  readonly approvals: ReadonlyArray<{ role: string; principal: string; fingerprint?: string }>;
  readonly outcome: string;
  readonly failedPhase?: string;
  readonly errorCode?: string;
  readonly verification: ReadonlyArray<{ name: string; ok: boolean; expected?: string; detail: string }>;
  readonly attachments: ReadonlyArray<{ name: string; sha256?: string; findings?: number }>;
}

export interface ReportSecret {
  readonly key: string;
  readonly type: string;
  readonly maxAgeDays: number;
  readonly rotations: readonly ReportRotation[];
  /** The longest time without a successful rotation in the period (from the last one before it, or its start). */
  readonly longestGap: {
    readonly days: number;
    readonly from: string;
    readonly to: string;
    readonly fromPeriodStart: boolean;
  };
  readonly policyMet: boolean;
}

export interface ReportBreakGlass {
  readonly time: string;
  readonly rotationId?: string;
  readonly keys: readonly string[];
  readonly reason: string;
  readonly operator: string;
  readonly requestId?: string;
  /** The approvals recorded after the fact, each with when it came. */
  readonly approvals: ReadonlyArray<{ time: string; role: string; principal: string; fingerprint?: string }>;
}

export interface EvidenceReport {
  readonly version: 1;
  readonly stack: string;
  readonly generatedAt: string;
  readonly period: { readonly from: string; readonly to: string };
  readonly audit: {
    readonly file: string;
    readonly ok: boolean;
    readonly records: number;
    readonly head?: { readonly seq: number; readonly hash: string };
    readonly broken?: { readonly seq: number; readonly reason: string };
    readonly macsChecked: boolean;
    readonly warnings: readonly string[];
  };
  readonly summary: ReadonlyArray<{
    readonly key: string;
    readonly type: string;
    readonly rotations: number;
    readonly longestGapDays: number;
    readonly maxAgeDays: number;
    readonly policyMet: boolean;
  }>;
  readonly secrets: readonly ReportSecret[];
  readonly breakGlass: readonly ReportBreakGlass[];
}

const ROTATING = new Set(['rotate', 'recover', 'rollback']);
const keysOf = (r: AuditRecord) => (r.secrets ?? []).map((s) => s.key);
const days = (n: number) => Math.round((n / DAY) * 10) / 10;

function rotationOf(r: AuditRecord): ReportRotation {
  const failed = r.phases?.find((p) => p.state === 'failed')?.id;
  return {
    time: r.time,
    ...(r.rotationId ? { rotationId: r.rotationId } : {}),
    kind: r.kind,
    ...(r.trigger ? { trigger: r.trigger } : {}),
    operator: r.operator,
    ...(r.ticket ? { ticket: r.ticket } : {}),
    ...(r.requestId ? { requestId: r.requestId } : {}),
    ...(r.unattended ? { unattended: true } : {}),
    ...(r.breakGlass ? { breakGlass: r.breakGlass } : {}),
    approvals: (r.approvals ?? []).map((a) => ({
      role: a.role,
      principal: a.principal,
      ...(a.fingerprint ? { fingerprint: a.fingerprint } : {}),
    })),
    outcome: r.outcome,
    ...(failed ? { failedPhase: failed } : {}),
    ...(r.error ? { errorCode: r.error.code } : {}),
    verification: (r.verification ?? []).map((v) => ({
      name: v.name,
      ok: v.ok,
      ...(v.expected !== undefined ? { expected: v.expected } : {}),
      detail: v.detail,
    })),
    attachments: (r.attachments ?? []).map((a) => ({
      name: String(a.name ?? a.path ?? 'attachment'),
      ...(typeof a.sha256 === 'string' ? { sha256: a.sha256 } : {}),
      ...(typeof a.total === 'number' ? { findings: a.total } : {}),
    })),
  };
}

/**
 * The evidence report of `period` for the loaded stack (`now` ends an open period).
 *
 * @example
 * const report = await buildReport(loaded, { from: new Date('2026-01-01'), to: new Date('2026-04-01') });
 * report.summary.every((s) => s.policyMet);
 */
export async function buildReport(
  loaded: LoadedConfig,
  period: ReportPeriod,
  now: Date = new Date(),
): Promise<EvidenceReport> {
  const file = auditFileOf(loaded);
  const [all, verdict] = await Promise.all([readAuditLog(file), verifyAuditLog(loaded)]);
  const records = await stackRecords(loaded, all);
  const inPeriod = (r: AuditRecord) => {
    const t = Date.parse(r.time);
    return t >= period.from.getTime() && t < period.to.getTime();
  };
  const end = Math.min(period.to.getTime(), now.getTime());
  const policy = loaded.config.policy;

  const secrets: ReportSecret[] = loaded.config.secrets.map((s) => {
    const maxAge = ms(s.maxAge ?? policy.maxAge);
    const mine = records.filter((r) => ROTATING.has(r.kind) && keysOf(r).includes(s.key));
    const rotated = mine
      // A rollback puts old values back: not a rotation the policy counts.
      .filter((r) => r.outcome === 'rotated' && r.kind !== 'rollback')
      .map((r) => Date.parse(r.time))
      .sort((a, b) => a - b);
    const before = rotated.filter((t) => t < period.from.getTime()).at(-1);
    const during = rotated.filter((t) => t >= period.from.getTime() && t < end);
    const points = [before ?? period.from.getTime(), ...during, end];
    let gap = { ms: 0, from: points[0] ?? end, to: points[0] ?? end };
    for (let i = 1; i < points.length; i++) {
      const d = (points[i] ?? 0) - (points[i - 1] ?? 0);
      if (d > gap.ms) gap = { ms: d, from: points[i - 1] ?? 0, to: points[i] ?? 0 };
    }
    return {
      key: s.key,
      type: s.type,
      maxAgeDays: days(maxAge),
      rotations: mine.filter(inPeriod).map(rotationOf),
      longestGap: {
        days: days(gap.ms),
        from: new Date(gap.from).toISOString(),
        to: new Date(gap.to).toISOString(),
        fromPeriodStart: before === undefined && gap.from === period.from.getTime(),
      },
      policyMet: gap.ms <= maxAge,
    };
  });

  const breakGlass: ReportBreakGlass[] = records
    .filter(
      (r) => inPeriod(r) && typeof r.breakGlass === 'string' && r.kind !== 'approval' && r.kind !== 'request',
    )
    .map((r) => ({
      time: r.time,
      ...(r.rotationId ? { rotationId: r.rotationId } : {}),
      keys: keysOf(r),
      reason: r.breakGlass ?? '',
      operator: r.operator,
      ...(r.requestId ? { requestId: r.requestId } : {}),
      approvals: records
        .filter((a) => a.kind === 'approval' && r.requestId !== undefined && a.requestId === r.requestId)
        .flatMap((a) =>
          (a.approvals ?? []).map((x) => ({
            time: a.time,
            role: x.role,
            principal: x.principal,
            ...(x.fingerprint ? { fingerprint: x.fingerprint } : {}),
          })),
        ),
    }));

  return {
    version: 1,
    stack: loaded.stack,
    generatedAt: now.toISOString(),
    period: { from: period.from.toISOString(), to: period.to.toISOString() },
    audit: {
      file,
      ok: verdict.ok,
      records: verdict.records,
      ...(verdict.last ? { head: { seq: verdict.last.seq, hash: verdict.last.hash } } : {}),
      ...(verdict.broken ? { broken: verdict.broken } : {}),
      macsChecked: verdict.macsChecked === true,
      warnings: verdict.warnings,
    },
    summary: secrets.map((s) => ({
      key: s.key,
      type: s.type,
      rotations: s.rotations.filter((r) => r.outcome === 'rotated' && r.kind !== 'rollback').length,
      longestGapDays: s.longestGap.days,
      maxAgeDays: s.maxAgeDays,
      policyMet: s.policyMet,
    })),
    secrets,
    breakGlass,
  };
}
