/** How a rotation's result is shown: the validation table, a summary line, what to do next. */
import path from 'node:path';
import type { EvictionFinding } from '../engine/ports.js';
import type { RotationResult } from '../engine/run.js';
import { formatDuration } from '../lib/duration.js';
import { RekeyError } from '../lib/errors.js';
import { color } from '../lib/log.js';
import { renderTable } from '../verify/table.js';
import { printJson, printLines } from './output.js';

const VERB: Record<RotationResult['kind'], string> = {
  rotate: 'rotated',
  rollback: 'rolled back to the backup',
  recover: 'recovered',
};

/**
 * Prints a result (JSON document on stdout with --json; table and summary on stderr otherwise),
 * then throws the result's error so main.ts sets the exit code.
 */
export function report(
  result: RotationResult,
  json: boolean | undefined,
  success: readonly RotationResult['outcome'][] = ['rotated', 'nothing-to-do'],
): void {
  const ok = success.includes(result.outcome);
  if (json) printJson({ ok, ...result });
  else printHuman(result);
  if (result.error && !ok) {
    if (result.outcome === 'needs-attention') {
      throw new RekeyError('ERR_NEEDS_ATTENTION', result.error.message, { hint: result.error.hint });
    }
    // Rolled back: exit 1 whatever the cause's own code would exit with (an I/O error is exit 4 when
    // it stops rekey, but here every service is back on its old value).
    const cause = new RekeyError(result.error.code as RekeyError['code'], result.error.message, {
      hint: result.error.hint,
    });
    if (result.outcome === 'rolled-back' && cause.exitCode !== 1) {
      throw new RekeyError('ERR_ROTATION_FAILED', `${cause.code}: ${cause.message}`, { hint: cause.hint });
    }
    throw cause;
  }
}

const MARK: Record<EvictionFinding['status'], string> = {
  removed: 'removed',
  reported: 'FOUND, left in place',
  clean: 'clean',
  unchecked: 'NOT CHECKED',
};

/**
 * The eviction report of a compromise rotation, grouped by service.
 *
 * @example
 * renderEviction(result.eviction);
 * // ['What an attacker could still use (compromise eviction):', '  Redis 127.0.0.1:6379 (REDIS_PASSWORD)', '    passwords  removed  user default: …']
 */
export function renderEviction(findings: readonly EvictionFinding[]): string[] {
  const lines = ['What an attacker could still use (compromise eviction):'];
  const services = [...new Set(findings.map((f) => f.service))];
  for (const service of services) {
    lines.push(`  ${service}`);
    for (const f of findings.filter((x) => x.service === service)) {
      const mark =
        f.status === 'reported' || f.status === 'unchecked'
          ? color.yellow(MARK[f.status])
          : color.green(MARK[f.status]);
      lines.push(`    ${f.foothold.padEnd(11)} ${mark}: ${f.text}`);
    }
  }
  return lines;
}

function printHuman(r: RotationResult): void {
  const lines: string[] = [];
  if (r.checks.length > 0) lines.push('', ...renderTable(r.checks));
  lines.push('');
  switch (r.outcome) {
    case 'rotated':
      lines.push(
        color.green(
          `${VERB[r.kind]}: ${r.keys.join(', ')} in ${formatDuration(r.ms)} (trigger ${r.trigger}, id ${r.id})`,
        ),
      );
      if (r.backupPath) lines.push(`backup of the old env file: ${path.basename(r.backupPath)}`);
      break;
    case 'rolled-back':
      lines.push(
        color.red(`rotation failed and was rolled back: every service is back on its old value (id ${r.id})`),
      );
      break;
    case 'needs-attention':
      lines.push(color.red(`NEEDS ATTENTION (id ${r.id})`));
      break;
    case 'nothing-to-do':
      lines.push('nothing to recover: no rotation is pending');
      break;
    default:
      break;
  }
  if (r.eviction) lines.push('', ...renderEviction(r.eviction));
  for (const w of r.warnings) lines.push(`${color.yellow('warning')} ${w}`);
  if (r.error) for (const d of r.error.details) lines.push(`  ${d}`);
  printLines(lines);
}
