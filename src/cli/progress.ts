/**
 * Progress on stderr: a live step list on a TTY (phase, target, elapsed; redrawn in place), plain
 * lines otherwise (CI logs, pipes). Both go through the redactor.
 */

import type { Progress, StepOutcome } from '../engine/progress.js';
import { formatDuration } from '../lib/duration.js';
import { color, useColor } from '../lib/log.js';
import { redactor } from '../lib/redact.js';

export interface Row {
  id: string;
  title: string;
  state: 'running' | StepOutcome;
  started: number;
  ms?: number;
  detail?: string;
}

const MARK: Record<Row['state'], string> = { running: '…', ok: '✓', failed: '✗', skipped: '-' };

function paintMark(state: Row['state']): string {
  const m = MARK[state];
  if (state === 'ok') return color.green(m);
  if (state === 'failed') return color.red(m);
  if (state === 'running') return color.yellow(m);
  return color.dim(m);
}

function rowText(r: Row, now: number): string {
  const elapsed = formatDuration(r.ms ?? now - r.started);
  const detail = r.detail ? color.dim(` — ${r.detail}`) : '';
  return `  ${paintMark(r.state)} ${r.title.padEnd(34)} ${color.dim(elapsed.padStart(7))}${detail}`;
}

/** Plain lines, one per finished step. */
export function plainProgress(stream: NodeJS.WritableStream = process.stderr): Progress {
  const started = new Map<string, number>();
  return {
    begin(id) {
      started.set(id, Date.now());
    },
    end(id, outcome, detail) {
      const t0 = started.get(id) ?? Date.now();
      const r: Row = {
        id,
        title: id,
        state: outcome,
        started: t0,
        ms: Date.now() - t0,
        ...(detail ? { detail } : {}),
      };
      stream.write(`${redactor.redact(rowText(r, Date.now()))}\n`);
    },
    note(text) {
      stream.write(`${redactor.redact(`  ${text}`)}\n`);
    },
  };
}

/**
 * The live step list, redrawn in place while a step runs. It never grows past the terminal's height
 * (a rotation of 1000 secrets has 4000 steps): the steps still running and the latest ones are shown,
 * the earlier ones folded into one line that counts them; and it is redrawn at most every
 * {@link REDRAW_MS} (a step that ends in between is drawn by the next redraw or by `stop`).
 */
export function liveProgress(stream: NodeJS.WriteStream = process.stderr): Progress & { stop(): void } {
  const rows: Row[] = [];
  const running = new Set<Row>();
  const totals: Record<Row['state'], number> = { running: 0, ok: 0, failed: 0, skipped: 0 };
  let drawn = 0;
  let drawnAt = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const now = Date.now();
    drawnAt = now;
    const lines = visible(rows, running, totals, Math.max(4, (stream.rows || 24) - 1)).map((r) =>
      typeof r === 'string' ? r : redactor.redact(rowText(r, now)),
    );
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) out += `\x1b[2K${l}\n`;
    // A list shorter than the last one (folded): clear what is left below it.
    if (lines.length < drawn) out += '\x1b[J';
    stream.write(out);
    drawn = lines.length;
  };
  const soon = () => {
    if (Date.now() - drawnAt >= REDRAW_MS) draw();
  };
  const ensureTimer = () => {
    if (timer === undefined) {
      timer = setInterval(draw, REDRAW_MS * 2);
      timer.unref();
    }
  };
  return {
    begin(id, title) {
      const r: Row = { id, title, state: 'running', started: Date.now() };
      rows.push(r);
      running.add(r);
      totals.running++;
      ensureTimer();
      soon();
    },
    end(id, outcome, detail) {
      const r = [...running].reverse().find((x) => x.id === id);
      if (r) {
        running.delete(r);
        totals.running--;
        totals[outcome]++;
        r.state = outcome;
        r.ms = Date.now() - r.started;
        if (detail) r.detail = detail;
      }
      // A failure is drawn at once; so is the end of a step that ran alone.
      if (outcome === 'failed' || running.size === 0) draw();
      else soon();
    },
    note(text) {
      // Notes scroll above the list: print, then redraw the list below.
      stream.write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[J` : ''}${redactor.redact(`  ${text}`)}\n`);
      drawn = 0;
      draw();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      draw();
    },
  };
}

/** At most this often the live list is redrawn on a step's begin or end. */
export const REDRAW_MS = 100;

/**
 * The rows to draw in `height` lines: all when they fit; else a line counting the earlier steps, the
 * steps still running (at most `concurrency` of them) and the latest ones.
 */
export function visible(
  rows: readonly Row[],
  running: ReadonlySet<Row>,
  totals: Readonly<Record<Row['state'], number>>,
  height: number,
): Array<Row | string> {
  if (rows.length <= height) return [...rows];
  const room = height - 1;
  const tail = rows.slice(-room);
  const inTail = new Set(tail);
  const earlier = [...running].filter((r) => !inTail.has(r));
  // Finished rows at the start of the tail give way to the earlier steps still running.
  let drop = Math.max(0, earlier.length + tail.length - room);
  const kept = tail.filter((r) => !(drop > 0 && r.state !== 'running' && drop-- > 0));
  const shown = [...earlier, ...kept].slice(-room);
  const hidden = { ...totals };
  for (const r of shown) hidden[r.state]--;
  const folded = rows.length - shown.length;
  const parts = [
    `${hidden.ok} ${MARK.ok}`,
    ...(hidden.failed > 0 ? [`${hidden.failed} ${MARK.failed}`] : []),
    ...(hidden.skipped > 0 ? [`${hidden.skipped} ${MARK.skipped}`] : []),
  ];
  return [color.dim(`  … ${folded} earlier step${folded === 1 ? '' : 's'} (${parts.join(', ')})`), ...shown];
}

/** The progress renderer for this terminal. */
export function progressFor(stream: NodeJS.WriteStream = process.stderr): Progress & { stop(): void } {
  if (stream.isTTY && useColor(stream)) return liveProgress(stream);
  const p = plainProgress(stream);
  return { ...p, stop() {} };
}
