/**
 * What a scheduled run's report means for `rekey schedule --once`: whether it went well, and the error
 * it exits with (needs attention first, exit 4; then failed rotations, exit 1).
 */
import { RekeyError } from '../../lib/errors.js';
import type { RunReport } from './scheduler.js';

/**
 * True when every secret of the run was rotated or skipped.
 *
 * @example
 * runSucceeded({ at, results: [{ key: 'PG', outcome: 'rotated', attempts: 1 }] }); // true
 */
export function runSucceeded(run: RunReport): boolean {
  return run.results.every((r) => r.outcome === 'rotated' || r.outcome === 'skipped');
}

/**
 * The error a run ends with: ERR_NEEDS_ATTENTION when a secret needs attention, ERR_ROTATION_FAILED
 * when a rotation failed; undefined otherwise.
 *
 * @example
 * const failure = runFailure(await scheduler.runOnce());
 * if (failure) throw failure;
 */
export function runFailure(run: RunReport): RekeyError | undefined {
  const attention = run.results.filter((r) => r.outcome === 'needs-attention').map((r) => r.key);
  if (attention.length > 0) {
    return new RekeyError('ERR_NEEDS_ATTENTION', `unattended rotation stopped for ${attention.join(', ')}`, {
      hint: 'Fix the cause named above, then rotate by hand or run `rekey schedule --clear KEYS`.',
    });
  }
  const failed = run.results.filter((r) => r.outcome === 'failed').map((r) => r.key);
  if (failed.length > 0) {
    return new RekeyError('ERR_ROTATION_FAILED', `unattended rotation failed for ${failed.join(', ')}`);
  }
  return undefined;
}
