/** The human status table and the age bar (no TTY in tests: no colour). */
import { describe, expect, it } from 'vitest';
import { evaluateCheck } from '../../src/policy/check.js';
import { ageBar, renderCheck, renderStatus } from '../../src/policy/render.js';
import { computeStatus } from '../../src/policy/status.js';
import { ago, DAY, event, inputs, NOW, statusConfig } from './helpers.js';

describe('ageBar', () => {
  it('fills in proportion to age against the limit, full when overdue', () => {
    expect(ageBar(0, 90 * DAY)).toBe(`${'░'.repeat(20)}   0%`);
    expect(ageBar(45 * DAY, 90 * DAY)).toBe(`${'█'.repeat(10)}${'░'.repeat(10)}  50%`);
    expect(ageBar(180 * DAY, 90 * DAY)).toBe(`${'█'.repeat(20)} 200%`);
    expect(ageBar(undefined, 90 * DAY)).toBe(`${'░'.repeat(20)}    ?`);
  });
});

describe('renderStatus', () => {
  it('shows a row per secret with state, outcome, trigger and bar', () => {
    const report = computeStatus(
      statusConfig(),
      inputs({
        events: [
          event({ time: ago(95), keys: ['JWT_SECRET'], trigger: 'compromise' }),
          event({ time: ago(10), keys: ['POSTGRES_PASSWORD'], unattended: true }),
        ],
        warnings: ['audit log: something'],
      }),
      NOW,
    );
    const lines = renderStatus(report);
    expect(lines[0]).toBe('stack prod — 2026-06-01 12:00 UTC');
    expect(lines[2]).toMatch(
      /^KEY\s+TYPE\s+LAST ROTATED\s+AGE\s+MAX AGE\s+DUE\s+STATE\s+LAST OUTCOME\s+TRIGGER\s+AGE \/ MAX AGE$/,
    );
    expect(lines[3]).toMatch(
      /^JWT_SECRET\s+jwt\s+2026-02-26 \(journal\)\s+95d\s+90d\s+2026-05-27\s+overdue\s+rotated\s+compromise\s+█{20} 106%$/,
    );
    expect(lines[4]).toMatch(
      /^POSTGRES_PASSWORD\s+postgres\*\s+2026-05-22 \(journal\)\s+10d\s+90d\s+2026-08-20\s+ok\s+rotated\s+scheduled \(unattended\)\s+██░{18}\s+11%$/,
    );
    expect(lines[5]).toMatch(
      /^REDIS_PASSWORD\s+redis\*\s+never\s+-\s+90d\s+now\s+never rotated\s+-\s+-\s+░{20}\s+\?$/,
    );
    expect(lines).toContain('* unattended: rekey schedule may rotate it');
    expect(lines.at(-1)).toBe('warning audit log: something');
    // Columns line up: every row's STATE cell starts at the same column as the header's.
    const col = lines[2]!.indexOf('STATE');
    expect(lines[3]!.slice(col)).toMatch(/^overdue /);
    expect(lines[5]!.slice(col)).toMatch(/^never rotated /);
  });

  it('renderCheck ends with a summary line', () => {
    const report = computeStatus(
      statusConfig(),
      inputs({
        events: [event({ time: ago(1), keys: ['JWT_SECRET', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD'] })],
      }),
      NOW,
    );
    expect(renderCheck(evaluateCheck(report), 3)).toEqual(['all 3 secrets within the rotation policy']);
  });
});
