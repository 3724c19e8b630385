/**
 * A latency-over-time chart drawn as plain SVG (no charting dependency): one panel per series, time
 * since the operation started on x (each panel its own scale), latency on a shared log-scale y. Each
 * pixel column shows the median and the worst sample that fell into it, and a dashed line marks the
 * target.
 */

export interface LatencySeries {
  readonly label: string;
  /** Sample times in ms since the operation started (may start below 0: the baseline before it). */
  readonly t: readonly number[];
  /** Latencies in ms. */
  readonly ms: readonly number[];
  /** When the operation ended (ms since start), drawn as a shaded span from 0. */
  readonly endMs: number;
}

const W = 900;
const PANEL_H = 150;
const LEFT = 70;
const RIGHT = 20;
const TOP = 50;
const GAP = 55;
const BINS = 400;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const fmt = (v: number) => (v >= 1000 ? `${v / 1000} s` : `${v} ms`);

/** Tick values for a log axis from `lo` to `hi` (powers of ten). */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

/** About 6 round tick values from 0 to `hi`. */
function linearTicks(lo: number, hi: number): number[] {
  const span = hi - lo;
  const raw = span / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi; v += step) ticks.push(Math.round(v * 1000) / 1000);
  return ticks;
}

/**
 * @example
 * const svg = latencyChart('PING latency during each purge', series, { targetMs: 2 });
 */
export function latencyChart(
  title: string,
  series: readonly LatencySeries[],
  options: { targetMs?: number; subtitle?: string } = {},
): string {
  const all = series.flatMap((s) => s.ms).filter((v) => v > 0);
  const yMin = 10 ** Math.floor(Math.log10(Math.max(0.01, min(all))));
  const yMax = 10 ** Math.ceil(Math.log10(Math.max(10, max(all))));
  const plotW = W - LEFT - RIGHT;
  const H = TOP + series.length * (PANEL_H + GAP) + 10;
  const y = (v: number, top: number) =>
    top +
    PANEL_H -
    ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * PANEL_H;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${LEFT}" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  if (options.subtitle) out.push(`<text x="${LEFT}" y="37" fill="#555">${esc(options.subtitle)}</text>`);
  series.forEach((s, i) => {
    const top = TOP + i * (PANEL_H + GAP) + 18;
    const tMin = Math.min(0, min(s.t));
    const tMax = Math.max(s.endMs, max(s.t));
    const x = (t: number) => LEFT + ((t - tMin) / Math.max(1, tMax - tMin)) * plotW;
    out.push(`<text x="${LEFT}" y="${top - 6}" font-size="12" font-weight="bold">${esc(s.label)}</text>`);
    out.push(
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${PANEL_H}" fill="#fafafa" stroke="#ccc"/>`,
    );
    out.push(
      `<rect x="${x(0)}" y="${top}" width="${Math.max(1, x(s.endMs) - x(0))}" height="${PANEL_H}" fill="#e8f0fe"/>`,
    );
    for (const v of logTicks(yMin, yMax)) {
      const yy = y(v, top);
      out.push(`<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${yy}" y2="${yy}" stroke="#e3e3e3"/>`);
      out.push(`<text x="${LEFT - 5}" y="${yy + 4}" text-anchor="end" fill="#555">${fmt(v)}</text>`);
    }
    for (const t of linearTicks(tMin, tMax)) {
      const xx = x(t);
      out.push(`<line x1="${xx}" x2="${xx}" y1="${top + PANEL_H}" y2="${top + PANEL_H + 4}" stroke="#999"/>`);
      out.push(
        `<text x="${xx}" y="${top + PANEL_H + 16}" text-anchor="middle" fill="#555">${t >= 1000 || t <= -1000 ? `${t / 1000} s` : `${t} ms`}</text>`,
      );
    }
    if (options.targetMs !== undefined) {
      const yy = y(options.targetMs, top);
      out.push(
        `<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${yy}" y2="${yy}" stroke="#d93025" stroke-dasharray="5 4"/>`,
      );
    }
    // Bin by pixel column: median (blue) and worst (orange) per bin.
    const bins: number[][] = Array.from({ length: BINS }, () => []);
    s.t.forEach((t, k) => {
      const b = Math.min(BINS - 1, Math.max(0, Math.floor(((t - tMin) / Math.max(1, tMax - tMin)) * BINS)));
      bins[b]?.push(s.ms[k] ?? 0);
    });
    const worst: string[] = [];
    const mid: string[] = [];
    bins.forEach((b, k) => {
      if (b.length === 0) return;
      const sorted = [...b].sort((p, q) => p - q);
      const xx = (LEFT + ((k + 0.5) / BINS) * plotW).toFixed(1);
      worst.push(`${xx},${y(sorted[sorted.length - 1] ?? 0, top).toFixed(1)}`);
      mid.push(`${xx},${y(sorted[Math.floor((sorted.length - 1) / 2)] ?? 0, top).toFixed(1)}`);
    });
    out.push(`<polyline fill="none" stroke="#f29900" stroke-width="1.2" points="${worst.join(' ')}"/>`);
    out.push(`<polyline fill="none" stroke="#1a73e8" stroke-width="1.2" points="${mid.join(' ')}"/>`);
  });
  out.push(
    `<g transform="translate(${W - 430},${14})">` +
      `<line x1="0" x2="18" y1="0" y2="0" stroke="#1a73e8" stroke-width="2"/><text x="22" y="4">median per column</text>` +
      `<line x1="130" x2="148" y1="0" y2="0" stroke="#f29900" stroke-width="2"/><text x="152" y="4">worst per column</text>` +
      `<rect x="255" y="-6" width="14" height="12" fill="#e8f0fe" stroke="#ccc"/><text x="273" y="4">operation running</text>` +
      (options.targetMs !== undefined
        ? `<line x1="0" x2="18" y1="16" y2="16" stroke="#d93025" stroke-dasharray="5 4"/><text x="22" y="20">target ${options.targetMs} ms</text>`
        : '') +
      '</g>',
  );
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const min = (values: readonly number[]) => values.reduce((m, v) => Math.min(m, v), Number.POSITIVE_INFINITY);
const max = (values: readonly number[]) => values.reduce((m, v) => Math.max(m, v), Number.NEGATIVE_INFINITY);
