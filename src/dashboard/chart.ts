/**
 * The dashboard's two charts as SVG made on the server (no script): each rotation's duration over the
 * last year, and each secret's time-to-rotate (days between successful rotations, and its age now)
 * against its max age. Colours come from the stylesheet through classes; every text is escaped.
 */
import { escapeHtml } from '../report/index.js';
import type { DashboardRotations, DashboardSecret } from './model.js';

const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };
const PLOT_W = W - PAD.left - PAD.right;
const PLOT_H = H - PAD.top - PAD.bottom;

const n = (v: number) => (Math.round(v * 10) / 10).toString();
const day = (iso: string) => iso.slice(0, 10);

interface Axes {
  readonly from: number;
  readonly to: number;
  readonly max: number;
}

const xOf = (a: Axes, t: number) => PAD.left + ((t - a.from) / Math.max(1, a.to - a.from)) * PLOT_W;
const yOf = (a: Axes, v: number) => PAD.top + PLOT_H - (Math.min(v, a.max) / a.max) * PLOT_H;

function frame(a: Axes, unit: string, id: string, title: string, body: string[]): string {
  const ticks = [0, 0.5, 1].map((f) => {
    const y = PAD.top + PLOT_H - f * PLOT_H;
    return `<line class="grid" x1="${PAD.left}" y1="${n(y)}" x2="${W - PAD.right}" y2="${n(y)}"/><text class="tick" x="${PAD.left - 4}" y="${n(y + 4)}" text-anchor="end">${escapeHtml(n(a.max * f))}${escapeHtml(unit)}</text>`;
  });
  return [
    `<svg id="${id}" class="chart" viewBox="0 0 ${W} ${H}" role="img" aria-labelledby="${id}-title" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${id}-title">${escapeHtml(title)}</title>`,
    ...ticks,
    `<line class="axis" x1="${PAD.left}" y1="${PAD.top + PLOT_H}" x2="${W - PAD.right}" y2="${PAD.top + PLOT_H}"/>`,
    `<text class="tick" x="${PAD.left}" y="${H - 8}">${escapeHtml(day(new Date(a.from).toISOString()))}</text>`,
    `<text class="tick" x="${W - PAD.right}" y="${H - 8}" text-anchor="end">${escapeHtml(day(new Date(a.to).toISOString()))}</text>`,
    ...body,
    '</svg>',
  ].join('');
}

/**
 * Each rotation of the window as a bar of its duration (seconds), coloured by outcome.
 *
 * @example
 * durationChart(rotations); // '<svg id="chart-durations" …'
 */
export function durationChart(data: DashboardRotations): string {
  const timed = data.rotations.filter((r) => r.durationMs !== undefined);
  const max = Math.max(1, ...timed.map((r) => (r.durationMs ?? 0) / 1000)) * 1.1;
  const a: Axes = { from: Date.parse(data.from), to: Date.parse(data.now), max };
  const body = timed.map((r) => {
    const x = xOf(a, Date.parse(r.time));
    const s = (r.durationMs ?? 0) / 1000;
    const y = yOf(a, s);
    return `<rect class="bar outcome-${escapeHtml(r.outcome)}" x="${n(x - 2)}" y="${n(y)}" width="4" height="${n(PAD.top + PLOT_H - y)}"><title>${escapeHtml(`${r.time} ${r.kind} ${r.outcome}: ${n(s)} s`)}</title></rect>`;
  });
  if (timed.length === 0)
    body.push(
      `<text class="empty" x="${W / 2}" y="${H / 2}" text-anchor="middle">no rotation in the last year</text>`,
    );
  return frame(a, 's', 'chart-durations', 'Rotation durations over the last year (seconds)', body);
}

/**
 * Days between successful rotations of each secret (dots) and each secret's age now (rings), with
 * each distinct max age as a dashed line: a dot above its line is a period out of policy.
 *
 * @example
 * policyChart(rotations, status.secrets); // '<svg id="chart-policy" …'
 */
export function policyChart(data: DashboardRotations, secrets: readonly DashboardSecret[]): string {
  const maxAges = new Map(data.policy.map((p) => [p.key, p.maxAgeDays]));
  const values = [
    ...data.policy.flatMap((p) => [p.maxAgeDays, ...p.intervals.map((i) => i.days)]),
    ...secrets.map((s) => s.ageDays ?? 0),
  ];
  const a: Axes = {
    from: Date.parse(data.from),
    to: Date.parse(data.now),
    max: Math.max(1, ...values) * 1.1,
  };
  const body: string[] = [];
  for (const m of new Set(maxAges.values())) {
    const y = yOf(a, m);
    body.push(
      `<line class="limit" x1="${PAD.left}" y1="${n(y)}" x2="${W - PAD.right}" y2="${n(y)}"><title>max age ${escapeHtml(n(m))} days</title></line>`,
    );
  }
  for (const p of data.policy) {
    for (const i of p.intervals) {
      const over = i.days > p.maxAgeDays;
      body.push(
        `<circle class="interval ${over ? 'over' : 'within'}" cx="${n(xOf(a, Date.parse(i.time)))}" cy="${n(yOf(a, i.days))}" r="4"><title>${escapeHtml(`${p.key} rotated ${day(i.time)} after ${n(i.days)} days (max ${n(p.maxAgeDays)})`)}</title></circle>`,
      );
    }
  }
  for (const s of secrets) {
    if (s.ageDays === undefined) continue;
    const over = s.ageDays >= s.maxAgeDays;
    body.push(
      `<circle class="age ${over ? 'over' : 'within'}" cx="${n(xOf(a, Date.parse(data.now)) - 6)}" cy="${n(yOf(a, s.ageDays))}" r="5"><title>${escapeHtml(`${s.key} is ${n(s.ageDays)} days old now (max ${n(s.maxAgeDays)})`)}</title></circle>`,
    );
  }
  return frame(a, 'd', 'chart-policy', 'Days between rotations against max age, last year', body);
}
