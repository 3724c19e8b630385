/** How a rotation's result is shown: the validation table, a summary line, what to do next. */
import path from 'node:path';
import { formatDuration } from '../core/duration.js';
import { RekeyError } from '../core/errors.js';
import { color } from '../core/log.js';
import type { RotationResult } from '../core/run.js';
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
  for (const w of r.warnings) lines.push(`${color.yellow('warning')} ${w}`);
  if (r.error) for (const d of r.error.details) lines.push(`  ${d}`);
  printLines(lines);
}
