/**
 * `rekey report`: reads the period, builds the evidence report (src/report/) and prints or writes it.
 * Not to be confused with ./report.ts, which prints a rotation's result.
 */
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fsx.js';
import { log } from '../lib/log.js';
import { redactor } from '../lib/redact.js';
import { buildReport, renderHtml, renderMarkdown } from '../report/index.js';
import { type GlobalOptions, loadStack } from './context.js';

const DAY = 86_400_000;

/**
 * A period bound: `YYYY-MM-DD` (UTC midnight; as `--to`, the end of that day) or an ISO 8601 time.
 *
 * @example
 * periodBound('2026-03-31', 'to'); // 2026-04-01T00:00:00.000Z
 */
export function periodBound(text: string, which: 'from' | 'to'): Date {
  const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(text);
  const iso = dateOnly || /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text);
  const t = iso ? Date.parse(dateOnly ? `${text}T00:00:00Z` : text) : Number.NaN;
  if (Number.isNaN(t) || (dateOnly && new Date(t).toISOString().slice(0, 10) !== text)) {
    throw new RekeyError('ERR_USAGE', `--${which} ${JSON.stringify(text)} is not a date`, {
      hint: `Give --${which} as YYYY-MM-DD (e.g. 2026-03-31) or an ISO 8601 time with a zone (2026-03-31T12:00:00Z); nothing was written.`,
    });
  }
  return new Date(dateOnly && which === 'to' ? t + DAY : t);
}

export async function reportCommand(
  g: GlobalOptions,
  o: { from: string; to: string; format: 'md' | 'json' | 'html'; out?: string },
): Promise<void> {
  const from = periodBound(o.from, 'from');
  const to = periodBound(o.to, 'to');
  if (to.getTime() <= from.getTime()) {
    throw new RekeyError('ERR_USAGE', `--to ${o.to} is not after --from ${o.from}`, {
      hint: 'Give a period whose end (--to, included) is on or after its start (--from); nothing was written.',
    });
  }
  const report = await buildReport(await loadStack(g.config), { from, to });
  const text =
    o.format === 'json'
      ? `${JSON.stringify(report, null, 2)}\n`
      : o.format === 'html'
        ? renderHtml(report)
        : renderMarkdown(report);
  // The report holds no value; redacting is the last guard all output passes.
  const safe = redactor.redact(text);
  if (o.out === undefined) {
    process.stdout.write(safe);
    return;
  }
  const file = path.resolve(o.out);
  await writeFileAtomic(file, safe, { mode: 0o644 });
  log.info(`evidence report (${o.format}) written to ${file}`);
}
