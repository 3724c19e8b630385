/** Renders the validation table for humans (stderr) in the playbook's shape: Check | Result | Expected. */

import type { CheckResult } from '../engine/ports.js';
import { color } from '../lib/log.js';

/**
 * @example
 * renderTable([{ name: 'App Health', ok: true, detail: '200 (2 attempts)', expected: '200' }]);
 */
export function renderTable(rows: readonly CheckResult[]): string[] {
  const head = ['Check', 'Result', 'Expected', ''];
  const body = rows.map((r) => [r.name, r.detail, r.expected ?? '', r.ok ? 'ok' : 'FAILED']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  const out = [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`];
  body.forEach((b, i) => {
    const text = line(b);
    out.push(rows[i]!.ok ? text : color.red(text));
  });
  return out;
}
