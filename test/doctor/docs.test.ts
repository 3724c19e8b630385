/** docs/doctor.md lists every rule the checks declare, with its name, default severity and summary. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { allRules } from '../../src/doctor/run.js';

describe('docs/doctor.md', () => {
  it('has the rule table of the code, row for row', () => {
    const doc = readFileSync(path.join(import.meta.dirname, '../../docs/doctor.md'), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- rules:'), doc.indexOf('<!-- /rules -->'));
    // Cells trimmed: biome aligns the table's columns.
    const rows = table
      .split('\n')
      .filter((l) => /^\| RK\d{3} /.test(l))
      .map((l) =>
        l
          .split('|')
          .slice(1, -1)
          .map((c) => c.trim()),
      );
    expect(rows).toEqual(allRules().map((r) => [r.id, `\`${r.name}\``, r.severity, r.summary]));
  });
});
