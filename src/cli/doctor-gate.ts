/** The doctor's part in `rekey plan` (findings at or above high, shown first) and `rekey rotate` (critical ones refuse). */
import { type LoadedConfig, stackValues } from '../config/load.js';
import { type DoctorContext, doctorContext } from '../doctor/context.js';
import type { Finding } from '../doctor/finding.js';
import { blockingFindings, planFindings } from '../doctor/gate.js';
import { RekeyError } from '../lib/errors.js';

async function contextOf(loaded: LoadedConfig): Promise<DoctorContext> {
  return doctorContext(loaded, await stackValues(loaded), new Date());
}

/** For `rekey plan`. */
export async function doctorForPlan(loaded: LoadedConfig): Promise<Finding[]> {
  return planFindings(await contextOf(loaded));
}

/** One line per finding, for the plan and the refusal. */
export function findingLine(f: Finding): string {
  return `${f.rule} ${f.severity}: ${f.message} — fix: ${f.fix}`;
}

/**
 * For `rekey rotate`: throws ERR_DOCTOR_CRITICAL (exit 2, nothing changed) on a critical finding the
 * rotation of `only` (all secrets when absent) does not remedy, unless `force`; then it warns.
 */
export async function doctorGate(
  loaded: LoadedConfig,
  only: readonly string[] | undefined,
  force: boolean,
  warn: (message: string) => void,
): Promise<void> {
  const ctx = await contextOf(loaded);
  const rotated = ctx.secrets
    .filter((s) => only === undefined || only.includes(s.config.key))
    .flatMap((s) => s.writtenKeys);
  const blocking = await blockingFindings(ctx, rotated);
  if (blocking.length === 0) return;
  if (force) {
    for (const f of blocking) warn(`rotating despite ${findingLine(f)} (--force)`);
    return;
  }
  throw new RekeyError(
    'ERR_DOCTOR_CRITICAL',
    `critical finding${blocking.length === 1 ? '' : 's'} the rotation does not fix: ${blocking.map(findingLine).join('; ')}`,
  );
}
