/**
 * Progress on stderr: a live step list on a TTY (phase, target, elapsed; redrawn in place), plain
 * lines otherwise (CI logs, pipes). Both go through the redactor.
 */

import type { Progress, StepOutcome } from '../engine/progress.js';
import { formatDuration } from '../lib/duration.js';
import { color, useColor } from '../lib/log.js';
import { redactor } from '../lib/redact.js';

interface Row {
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

/** The live step list, redrawn in place while a step runs. */
export function liveProgress(stream: NodeJS.WriteStream = process.stderr): Progress & { stop(): void } {
  const rows: Row[] = [];
  let drawn = 0;
  let timer: NodeJS.Timeout | undefined;
  const draw = () => {
    const now = Date.now();
    const lines = rows.map((r) => redactor.redact(rowText(r, now)));
    let out = drawn > 0 ? `\x1b[${drawn}A` : '';
    for (const l of lines) out += `\x1b[2K${l}\n`;
    stream.write(out);
    drawn = lines.length;
  };
  const ensureTimer = () => {
    if (timer === undefined) {
      timer = setInterval(draw, 200);
      timer.unref();
    }
  };
  return {
    begin(id, title) {
      rows.push({ id, title, state: 'running', started: Date.now() });
      ensureTimer();
      draw();
    },
    end(id, outcome, detail) {
      const r = [...rows].reverse().find((x) => x.id === id);
      if (r) {
        r.state = outcome;
        r.ms = Date.now() - r.started;
        if (detail) r.detail = detail;
      }
      draw();
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

/** The progress renderer for this terminal. */
export function progressFor(stream: NodeJS.WriteStream = process.stderr): Progress & { stop(): void } {
  if (stream.isTTY && useColor(stream)) return liveProgress(stream);
  const p = plainProgress(stream);
  return { ...p, stop() {} };
}
