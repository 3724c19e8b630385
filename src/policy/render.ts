/**
 * Human rendering of a status report: one row per secret, with a bar showing its age against its
 * maximum age (green, yellow when due soon, red when overdue; colour only where `color` paints, i.e.
 * on a TTY without NO_COLOR). Pure: lines in, no I/O.
 */
import { color } from '../lib/log.js';
import type { CheckResult } from './check.js';
import { humanDuration } from './format.js';
import type { SecretState, SecretStatus, StatusReport } from './types.js';

export const BAR_WIDTH = 20;

const LABEL: Record<SecretState, string> = {
  ok: 'ok',
  'due-soon': 'due soon',
  overdue: 'overdue',
  'never-rotated': 'never rotated',
  'approval-outstanding': 'approval outstanding',
  'rotation-failing': 'rotation failing',
  'needs-attention': 'needs attention',
};

/** The colour of a state: what the eye should catch first. */
function paint(s: SecretStatus): (text: string) => string {
  if (s.state === 'ok') return color.green;
  if (s.state === 'due-soon' || s.state === 'approval-outstanding') return color.yellow;
  if (s.overdue || s.state === 'rotation-failing' || s.state === 'needs-attention') return color.red;
  return color.yellow;
}

/**
 * A bar of `width` cells for an age against a limit, and the percentage; a never-rotated secret
 * gets an empty bar marked `?`.
 *
 * @example
 * ageBar(45 * DAY, 90 * DAY); // '██████████░░░░░░░░░░  50%'
 */
export function ageBar(ageMs: number | undefined, maxAgeMs: number, width = BAR_WIDTH): string {
  if (ageMs === undefined) return `${'░'.repeat(width)}    ?`;
  const ratio = maxAgeMs > 0 ? ageMs / maxAgeMs : 1;
  const filled = Math.max(0, Math.min(width, Math.round(ratio * width)));
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)} ${`${Math.round(ratio * 100)}%`.padStart(4)}`;
}

/**
 * The status table (header, one row per secret, warnings), as lines for stderr.
 *
 * @example
 * printLines(renderStatus(report));
 */
export function renderStatus(report: StatusReport): string[] {
  const header = ['KEY', 'TYPE', 'LAST ROTATED', 'AGE', 'MAX AGE', 'DUE', 'STATE', 'LAST OUTCOME', 'TRIGGER'];
  const rows = report.secrets.map((s) => [
    s.key,
    s.type + (s.unattended ? '*' : ''),
    s.lastRotated ? `${s.lastRotated.slice(0, 10)} (${s.source})` : 'never',
    s.ageMs === undefined ? '-' : humanDuration(s.ageMs),
    humanDuration(s.maxAgeMs),
    s.dueAt ? s.dueAt.slice(0, 10) : 'now',
    LABEL[s.state],
    s.lastAttempt === undefined
      ? '-'
      : s.lastAttempt.kind === 'rollback'
        ? `rollback ${s.lastAttempt.outcome}`
        : s.lastAttempt.outcome,
    (s.lastAttempt?.trigger ?? s.lastTrigger ?? '-') + (s.lastAttempt?.unattended ? ' (unattended)' : ''),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const out = [`stack ${report.stack} — ${report.now.slice(0, 16).replace('T', ' ')} UTC`, ''];
  out.push(color.bold(`${line(header)}  AGE / MAX AGE`));
  report.secrets.forEach((s, i) => {
    const p = paint(s);
    const cells = (rows[i] ?? []).map((c, j) => c.padEnd(widths[j] ?? 0));
    cells[6] = p(cells[6] ?? ''); // padded first: colour codes must not count as width
    out.push(`${cells.join('  ')}  ${p(ageBar(s.ageMs, s.maxAgeMs))}`);
  });
  if (report.secrets.some((s) => s.unattended))
    out.push('', color.dim('* unattended: rekey schedule may rotate it'));
  for (const s of report.secrets) {
    const a = s.schedule?.needsAttention;
    if (a) out.push(`${color.red('needs attention')} ${s.key}: ${a.reason} (since ${a.since.slice(0, 16)})`);
  }
  for (const w of report.warnings) out.push(`${color.yellow('warning')} ${w}`);
  return out;
}

/**
 * The human lines of `rekey check`: one per finding, then a summary.
 *
 * @example
 * printLines(renderCheck(result));
 */
export function renderCheck(result: CheckResult, secrets: number): string[] {
  const out = result.findings.map(
    (f) => `${f.level === 'error' ? color.red('error') : color.yellow('warning')} ${f.message}`,
  );
  const errors = result.findings.filter((f) => f.level === 'error').length;
  const warnings = result.findings.length - errors;
  const what = result.beforeRelease ? 'rotation policy and release gate' : 'rotation policy';
  out.push(
    errors > 0
      ? color.red(`${errors} of ${secrets} secret${secrets === 1 ? '' : 's'} fail the ${what}`)
      : color.green(
          `all ${secrets} secret${secrets === 1 ? '' : 's'} within the ${what}${warnings > 0 ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}`,
        ),
  );
  return out;
}
