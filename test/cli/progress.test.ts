/**
 * Issue 17: the live step list of a large rotation. It was redrawn whole on every step's begin and
 * end: at 1000 secrets (4000 steps) each redraw wrote every row, thousands of lines taller than any
 * terminal, tens of megabytes in all. Now it folds the earlier steps into one counting line, keeps
 * the steps still running in view, and never writes more lines than the terminal has. Fails on the
 * code before (every row drawn).
 */
import { describe, expect, it } from 'vitest';
import { liveProgress, type Row, visible } from '../../src/cli/progress.js';

/** A TTY of `rows` lines that keeps what was written. */
function terminal(rows: number) {
  const writes: string[] = [];
  const stream = {
    isTTY: true,
    rows,
    columns: 120,
    write(text: string) {
      writes.push(text);
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, writes };
}
const linesOf = (text: string) => text.split('\n').length - 1;

describe('live progress of a rotation with thousands of steps', () => {
  it('never draws more lines than the terminal has; the earlier steps are counted in one line', () => {
    const { stream, writes } = terminal(20);
    const p = liveProgress(stream);
    // 1000 targets' stages, 8 at a time, as the engine's lanes run them.
    for (let i = 0; i < 1000; i += 8) {
      for (let j = i; j < i + 8; j++) p.begin(`stage:PG_${j}`, `stage PG_${j}`);
      for (let j = i; j < i + 8; j++) p.end(`stage:PG_${j}`, j === 500 ? 'failed' : 'ok');
    }
    p.stop();
    for (const w of writes) expect(linesOf(w)).toBeLessThanOrEqual(20);
    const last = writes.at(-1) ?? '';
    expect(last).toMatch(/… 982 earlier steps \(981 ✓, 1 ✗\)/);
    expect(last).toContain('stage PG_999');
    // Bounded output: the old list wrote every row on every event (about 1000 × 1000 lines).
    expect(writes.join('').length).toBeLessThan(2_000_000);
  });

  it('keeps an early step that is still running in view while later ones finish', () => {
    const rows: Row[] = [];
    const running = new Set<Row>();
    const totals = { running: 0, ok: 0, failed: 0, skipped: 0 };
    const add = (id: string, state: Row['state']) => {
      const r: Row = { id, title: id, state, started: 0, ...(state === 'running' ? {} : { ms: 1 }) };
      rows.push(r);
      totals[state]++;
      if (state === 'running') running.add(r);
    };
    add('stage:SLOW', 'running');
    for (let i = 0; i < 50; i++) add(`stage:FAST_${i}`, 'ok');
    const shown = visible(rows, running, totals, 6);
    expect(shown).toHaveLength(6);
    expect(String(shown[0])).toMatch(/… 46 earlier steps \(46 ✓\)/);
    expect((shown[1] as Row).id).toBe('stage:SLOW');
    expect((shown[5] as Row).id).toBe('stage:FAST_49');
  });

  it('draws everything when it fits, and a failure at once', () => {
    const { stream, writes } = terminal(40);
    const p = liveProgress(stream);
    p.begin('stage:A', 'stage A');
    p.begin('stage:B', 'stage B');
    p.end('stage:A', 'ok');
    const before = writes.length;
    p.end('stage:B', 'failed', 'refused');
    expect(writes.length).toBe(before + 1);
    expect(writes.at(-1)).toContain('stage B');
    expect(writes.at(-1)).toContain('refused');
    p.stop();
    expect(writes.at(-1)).not.toContain('earlier');
  });
});
