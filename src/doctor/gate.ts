/**
 * The doctor before a rotation: `rekey plan` shows the findings at or above high, `rekey rotate`
 * refuses on a critical one the rotation does not remedy. A finding is remedied when the rotation
 * replaces every key it names (a current value found in git history is no longer current after it);
 * one naming no key (an audit log that does not verify) always blocks. Service traps are left to the
 * plan's own inspection (no second connection to every service).
 */
import type { DoctorContext } from './context.js';
import { type Finding, rank } from './finding.js';
import { CHECKS, runDoctor } from './run.js';

const OFFLINE = CHECKS.filter((c) => c.name !== 'service traps');

/** The offline checks' findings at or above high, most severe first (for `rekey plan`). */
export async function planFindings(ctx: DoctorContext): Promise<Finding[]> {
  const report = await runDoctor(ctx, { checks: OFFLINE });
  return report.findings.filter((f) => rank(f.severity) >= rank('high'));
}

/**
 * The critical findings a rotation of `rotated` (env keys whose values it replaces) leaves in place.
 *
 * @example
 * const blocking = await blockingFindings(ctx, ['JWT_SECRET']); // [] unless e.g. the audit log is broken
 */
export async function blockingFindings(ctx: DoctorContext, rotated: readonly string[]): Promise<Finding[]> {
  const critical = OFFLINE.filter((c) => c.rules.some((r) => r.severity === 'critical'));
  const report = await runDoctor(ctx, { checks: critical });
  const replaced = new Set(rotated);
  return report.findings.filter(
    (f) =>
      f.severity === 'critical' &&
      !(f.keys !== undefined && f.keys.length > 0 && f.keys.every((k) => replaced.has(k))),
  );
}
