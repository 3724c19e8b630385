/**
 * `rekey check`, in pure code: from a status report, what fails the CI reminder job (overdue, never
 * rotated, and with `--before-release` older than `policy.releaseMaxAge`) and what only warns (due
 * soon, a failing rotation, a secret the scheduler gave up on), the break-glass rotations whose
 * approvals are late, the error the command exits with, plus the GitHub Actions workflow commands that
 * show the findings as annotations.
 */
import { ms } from '../config/load.js';
import { RekeyError } from '../lib/errors.js';
import { humanDuration } from './format.js';
import type { AwaitingBreakGlass, SecretStatus, StatusReport } from './types.js';

export type FindingReason =
  | 'overdue'
  | 'never-rotated'
  | 'release'
  | 'due-soon'
  | 'rotation-failing'
  | 'needs-attention';

export interface CheckFinding {
  readonly key: string;
  readonly type: string;
  /** `error` fails the check (exit 3); `warning` is reported only. */
  readonly level: 'error' | 'warning';
  readonly reason: FindingReason;
  /** A short title (GitHub annotation title). */
  readonly title: string;
  /** One line: what is wrong and what to do. */
  readonly message: string;
}

export interface CheckResult {
  /** False when any finding is an error: the command exits 3. */
  readonly ok: boolean;
  readonly beforeRelease: boolean;
  readonly findings: readonly CheckFinding[];
}

/**
 * Evaluates a report. With `beforeRelease` and no `policy.releaseMaxAge`, throws ERR_CONFIG_INVALID:
 * a release gate that silently passes is worse than none.
 *
 * @example
 * const result = evaluateCheck(report, { beforeRelease: false });
 * result.ok; // false when a secret is overdue
 */
export function evaluateCheck(report: StatusReport, options: { beforeRelease?: boolean } = {}): CheckResult {
  const beforeRelease = options.beforeRelease === true;
  if (beforeRelease && report.releaseMaxAgeMs === undefined) {
    throw new RekeyError('ERR_CONFIG_INVALID', 'check --before-release: policy.releaseMaxAge is not set', {
      hint: 'Set `policy: { releaseMaxAge: 30d }` (the oldest a secret may be at a release) in rekey.yaml.',
    });
  }
  const findings: CheckFinding[] = [];
  for (const s of report.secrets) {
    const f = ageFinding(s, beforeRelease ? report.releaseMaxAgeMs : undefined);
    if (f) findings.push(f);
    findings.push(...healthFindings(s));
  }
  return { ok: !findings.some((f) => f.level === 'error'), beforeRelease, findings };
}

/**
 * The break-glass requests still unapproved once `approvals.breakGlassDeadline` has passed since they
 * were made; none without an `approvals:` section.
 *
 * @example
 * lateBreakGlass(await awaitingBreakGlass(loaded), loaded.config.approvals, new Date());
 * // [{ requestId: 'req-…', keys: ['JWT_SECRET'], time: '2026-11-25T10:00:00.000Z' }]
 */
export function lateBreakGlass(
  awaiting: readonly AwaitingBreakGlass[],
  approvals: { readonly breakGlassDeadline: string } | undefined,
  now: Date,
): AwaitingBreakGlass[] {
  if (approvals === undefined) return [];
  const deadline = ms(approvals.breakGlassDeadline);
  return awaiting.filter((b) => Date.parse(b.time) + deadline <= now.getTime());
}

/**
 * The error `rekey check` exits with (ERR_OVERDUE, exit 3): the failing secrets first, else the
 * break-glass rotations whose approvals are late; undefined when the check passes.
 *
 * @example
 * const failure = checkFailure(evaluateCheck(report), []);
 * if (failure) throw failure; // ERR_OVERDUE: 1 secret overdue: JWT_SECRET
 */
export function checkFailure(
  result: CheckResult,
  late: readonly AwaitingBreakGlass[],
): RekeyError | undefined {
  const failing = result.findings.filter((f) => f.level === 'error').map((f) => f.key);
  if (failing.length > 0) {
    const s = failing.length === 1 ? '' : 's';
    const what = result.beforeRelease ? 'too old for a release or overdue' : 'overdue';
    return new RekeyError(
      'ERR_OVERDUE',
      `${failing.length} secret${s} ${what}: ${failing.join(', ')}`,
      result.beforeRelease
        ? {
            hint: 'Rotate before releasing: `rekey rotate --trigger release`, then run `rekey check --before-release` again.',
          }
        : {},
    );
  }
  if (late.length > 0) {
    const s = late.length === 1 ? '' : 's';
    return new RekeyError(
      'ERR_OVERDUE',
      `${late.length} break-glass rotation${s} still lack their approvals after approvals.breakGlassDeadline: ${late.map((b) => b.requestId).join(', ')}`,
      { hint: 'Have the required roles approve them: `rekey approve ID --role ROLE`.' },
    );
  }
  return undefined;
}

const day = (iso: string | undefined) => (iso ?? '').slice(0, 10);

function ageFinding(s: SecretStatus, releaseMaxAgeMs: number | undefined): CheckFinding | undefined {
  const base = { key: s.key, type: s.type };
  const rotate = `rekey rotate --only ${s.key}`;
  if (s.lastRotated === undefined) {
    return {
      ...base,
      level: 'error',
      reason: 'never-rotated',
      title: `${s.key} never rotated`,
      message: `${s.key} (${s.type}) has no recorded rotation, so its age is unknown: rotate it (${rotate}), or record a rotation done by hand with a \`# LastSecretRotation: YYYY-MM-DD\` line in the env file`,
    };
  }
  const age = humanDuration(s.ageMs ?? 0);
  const max = humanDuration(s.maxAgeMs);
  if (s.overdue) {
    return {
      ...base,
      level: 'error',
      reason: 'overdue',
      title: `${s.key} overdue`,
      message: `${s.key} (${s.type}) is overdue: last rotated ${day(s.lastRotated)} (${age} ago), max age ${max}, due ${day(s.dueAt)}; rotate it: ${rotate}`,
    };
  }
  if (releaseMaxAgeMs !== undefined && s.releaseBlocked) {
    return {
      ...base,
      level: 'error',
      reason: 'release',
      title: `${s.key} too old for a release`,
      message: `${s.key} (${s.type}) is ${age} old, older than policy.releaseMaxAge ${humanDuration(releaseMaxAgeMs)}; rotate before the release: rekey rotate --trigger release`,
    };
  }
  if (s.dueSoon) {
    return {
      ...base,
      level: 'warning',
      reason: 'due-soon',
      title: `${s.key} due soon`,
      message: `${s.key} (${s.type}) is due ${day(s.dueAt)}, in ${humanDuration(s.dueInMs ?? 0)} (${age} old, max age ${max}); plan its rotation: ${rotate}`,
    };
  }
  return undefined;
}

function healthFindings(s: SecretStatus): CheckFinding[] {
  const out: CheckFinding[] = [];
  const base = { key: s.key, type: s.type, level: 'warning' as const };
  const attention = s.schedule?.needsAttention;
  if (attention) {
    out.push({
      ...base,
      reason: 'needs-attention',
      title: `${s.key} needs attention`,
      message: `rekey schedule stopped rotating ${s.key} on ${day(attention.since)}: ${attention.reason}; fix the cause, then rotate it by hand or run \`rekey schedule --clear ${s.key}\``,
    });
  }
  const a = s.lastAttempt;
  if (s.state === 'rotation-failing' && a) {
    const next =
      a.outcome === 'rolled-back'
        ? 'fix the cause and rotate again'
        : 'run `rekey recover` to finish or undo it';
    out.push({
      ...base,
      reason: 'rotation-failing',
      title: `${s.key} rotation failing`,
      message: `the last rotation of ${s.key} (id ${a.id}, ${day(a.at)}) ended ${a.outcome}; ${next}`,
    });
  }
  return out;
}

/** Escapes the message of a workflow command (GitHub's toCommandValue). */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Escapes a property of a workflow command (`title=`). */
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/**
 * GitHub Actions workflow commands for the findings: `::error title=…::message` and
 * `::warning title=…::message`, one line each, for stdout.
 *
 * @example
 * githubAnnotations(result); // ['::error title=JWT_SECRET overdue::JWT_SECRET (jwt) is overdue: …']
 */
export function githubAnnotations(result: CheckResult): string[] {
  return result.findings.map(
    (f) => `::${f.level} title=${escapeProperty(`rekey: ${f.title}`)}::${escapeData(f.message)}`,
  );
}
