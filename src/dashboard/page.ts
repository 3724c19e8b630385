/**
 * The dashboard page: one server-rendered HTML document, no script, its stylesheet at
 * `/dashboard.css` (the CSP allows nothing inline). Every value from the state on disk goes through
 * `escapeHtml`; the stable ids and `data-*` attributes are documented in docs/dashboard.md.
 */
import { escapeHtml } from '../report/index.js';
import { durationChart, policyChart } from './chart.js';
import type {
  Dashboard,
  DashboardRequest,
  DashboardRotation,
  DashboardSecret,
  DisplayState,
} from './model.js';

const e = (v: unknown) => escapeHtml(String(v));
const n = (v: number) => (Math.round(v * 10) / 10).toString();
const when = (iso: string | undefined) =>
  iso === undefined ? '—' : `<time datetime="${e(iso)}">${e(iso.slice(0, 16).replace('T', ' '))}</time>`;

const STATE_LABEL: Record<DisplayState, string> = {
  ok: 'ok',
  'due-soon': 'due soon',
  overdue: 'overdue',
  'needs-attention': 'needs attention',
  rotating: 'rotating now',
};

/** Age against max age as a bar (SVG: the CSP allows no inline style). */
function ageBar(s: DashboardSecret): string {
  if (s.ageDays === undefined) return '<span class="muted">never rotated</span>';
  const f = Math.min(1, s.ageDays / Math.max(s.maxAgeDays, 0.001));
  const warn = Math.max(0, 1 - s.warnBeforeDays / Math.max(s.maxAgeDays, 0.001));
  const cls = s.ageDays >= s.maxAgeDays ? 'over' : f >= warn ? 'warn' : 'fine';
  return `<svg class="agebar" viewBox="0 0 100 10" preserveAspectRatio="none" role="img" aria-label="${e(`${n(s.ageDays)} of ${n(s.maxAgeDays)} days`)}"><rect class="track" width="100" height="10"/><rect class="fill ${cls}" width="${n(f * 100)}" height="10"/></svg><span class="agetext">${e(n(s.ageDays))}d / ${e(n(s.maxAgeDays))}d</span>`;
}

function secretRow(s: DashboardSecret): string {
  const a = s.lastAttempt;
  const due =
    s.dueAt === undefined
      ? 'now'
      : `${when(s.dueAt)}<br><span class="muted">${s.dueInDays !== undefined && s.dueInDays < 0 ? `${e(n(-s.dueInDays))}d ago` : `in ${e(n(s.dueInDays ?? 0))}d`}</span>`;
  return `<tr class="secret" data-key="${e(s.key)}" data-state="${e(s.state)}" data-status="${e(s.status)}">
<th scope="row"><code>${e(s.key)}</code></th>
<td data-label="type">${e(s.type)}</td>
<td class="age" data-label="age">${ageBar(s)}</td>
<td class="due" data-label="due">${due}</td>
<td class="state" data-label="state"><span class="badge state-${e(s.state)}">${e(STATE_LABEL[s.state])}</span>${s.status !== s.state ? `<br><span class="muted">${e(s.status)}</span>` : ''}${s.attention ? `<br><span class="muted">${e(s.attention)}</span>` : ''}</td>
<td class="outcome" data-label="last outcome">${a ? `<span class="badge outcome-${e(a.outcome)}">${e(a.outcome)}</span><br><span class="muted">${when(a.at)}</span>` : '—'}</td>
<td class="trigger" data-label="trigger">${e(a?.trigger ?? s.lastTrigger ?? '—')}</td>
</tr>`;
}

function secretsSection(d: Dashboard): string {
  const s = d.status.secrets;
  return `<section id="secrets" aria-labelledby="secrets-h">
<h2 id="secrets-h">Secrets <span class="muted">(${s.length})</span></h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Secret</th><th scope="col">Type</th><th scope="col">Age / max age</th><th scope="col">Due</th><th scope="col">State</th><th scope="col">Last outcome</th><th scope="col">Trigger</th></tr></thead>
<tbody>
${s.map(secretRow).join('\n')}
</tbody></table></div>
</section>`;
}

function chainSection(d: Dashboard): string {
  const a = d.status.audit;
  const state = a.ok ? 'intact' : 'broken';
  const head = a.head
    ? `<p>Head: record ${e(a.head.seq)}, <code class="hash">${e(a.head.hash)}</code></p>`
    : '';
  const detail = a.ok
    ? `<p class="verdict"><span class="badge chain-intact">intact</span> ${e(a.records)} record(s)${a.macsChecked ? ', record MACs checked' : ', MACs not checked (no audit key)'}</p>`
    : `<p class="verdict"><span class="badge chain-broken">broken at record ${e(a.broken?.seq ?? '?')}</span> ${e(a.broken?.reason ?? '')}</p><p>Run <code>rekey audit verify</code> for the details.</p>`;
  return `<section id="chain" data-chain="${state}"${a.broken ? ` data-broken-at="${e(a.broken.seq)}"` : ''} aria-labelledby="chain-h">
<h2 id="chain-h">Audit chain</h2>
${detail}
${head}
${a.warnings.length > 0 ? `<ul class="warnings">${a.warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul>` : ''}
</section>`;
}

function requestItem(r: DashboardRequest): string {
  return `<li class="request" data-request="${e(r.id)}" data-status="${e(r.status)}">
<p><code>${e(r.id)}</code> <span class="badge ${r.breakGlass ? 'break-glass' : 'pending'}">${r.breakGlass ? 'break-glass, approval after the fact' : 'waiting for approval'}</span></p>
<p>${e(r.keys.join(', '))} · trigger ${e(r.trigger)}${r.ticket ? ` · ticket ${e(r.ticket)}` : ''} · requested by ${e(r.requester)} ${when(r.created)}${r.breakGlass ? ` · reason: ${e(r.breakGlass)}` : ` · expires ${when(r.expires)}`}</p>
${r.approvals.length > 0 ? `<p>Approved: ${r.approvals.map((a) => `${e(a.role)} (${e(a.principal)})`).join(', ')}</p>` : ''}
<p>Missing: ${r.missing.map((m) => `${e(m.role)} <span class="muted">(${e(m.why)})</span>`).join(', ')}</p>
${r.commands.map((c) => `<pre class="approve-command"><code>${e(c)}</code></pre>`).join('\n')}
</li>`;
}

function requestsSection(d: Dashboard): string {
  const r = d.status.requests;
  return `<section id="requests" aria-labelledby="requests-h">
<h2 id="requests-h">Waiting for approval <span class="muted">(${r.length})</span></h2>
${r.length === 0 ? '<p class="muted">No change request or break-glass rotation is waiting for approvals.</p>' : `<ul class="requests">${r.map(requestItem).join('\n')}</ul>`}
</section>`;
}

const secs = (ms: number | undefined) =>
  ms === undefined ? '' : ms < 1000 ? `${ms} ms` : `${n(ms / 1000)} s`;

function rotationItem(r: DashboardRotation): string {
  const steps = r.steps
    .map(
      (p) =>
        `<li class="step${p.state === 'failed' ? ' failed' : ''}" data-step="${e(p.id)}" data-state="${e(p.state)}"><span class="step-id">${e(p.id)}</span> <span class="muted">${e(p.state)}${p.ms !== undefined ? ` · ${e(secs(p.ms))}` : ''}</span></li>`,
    )
    .join('');
  const approvers = r.approvals.map((a) => `${e(a.role)}: ${e(a.principal)}`).join(', ');
  const failed = r.failedPhase
    ? `<p class="failure">Failed at <strong class="failed-step">${e(r.failedPhase)}</strong>${r.errorCode ? ` (${e(r.errorCode)})` : ''}</p>`
    : r.errorCode
      ? `<p class="failure">${e(r.errorCode)}</p>`
      : '';
  const verification =
    r.verification.length === 0
      ? ''
      : `<details><summary>Verification (${r.verification.length})</summary><table class="verification"><thead><tr><th scope="col">Check</th><th scope="col">Expected</th><th scope="col">Seen</th><th scope="col">OK</th></tr></thead><tbody>${r.verification.map((v) => `<tr><td>${e(v.name)}</td><td>${e(v.expected ?? '')}</td><td>${e(v.detail)}</td><td>${v.ok ? 'yes' : '<strong>no</strong>'}</td></tr>`).join('')}</tbody></table></details>`;
  return `<li class="rotation" data-outcome="${e(r.outcome)}" data-kind="${e(r.kind)}"${r.rotationId ? ` data-rotation="${e(r.rotationId)}"` : ''}>
<p class="rotation-head">${when(r.time)} <strong>${e(r.kind)}</strong> <span class="badge outcome-${e(r.outcome)}">${e(r.outcome)}</span>${r.durationMs !== undefined ? ` <span class="muted">${e(secs(r.durationMs))}</span>` : ''}</p>
<p>${e(r.keys.join(', '))}${r.rotationId ? ` · <code>${e(r.rotationId)}</code>` : ''}</p>
<p class="who">trigger ${e(r.trigger ?? '—')} · operator <span class="operator">${e(r.operator)}</span>${r.ticket ? ` · ticket <span class="ticket">${e(r.ticket)}</span>` : ''}${r.unattended ? ' · unattended' : ''}${r.breakGlass ? ` · break-glass: ${e(r.breakGlass)}` : ''}</p>
${approvers ? `<p class="approvers">approved by ${approvers}</p>` : ''}
${failed}
${steps ? `<ol class="steps">${steps}</ol>` : ''}
${verification}
</li>`;
}

function timelineSection(d: Dashboard): string {
  const r = d.rotations.rotations;
  return `<section id="timeline" aria-labelledby="timeline-h">
<h2 id="timeline-h">Rotations, last year <span class="muted">(${r.length})</span></h2>
${r.length === 0 ? '<p class="muted">No rotation recorded in the audit log in the last year.</p>' : `<ol class="timeline">${r.map(rotationItem).join('\n')}</ol>`}
</section>`;
}

function chartsSection(d: Dashboard): string {
  const policy = d.rotations.policy
    .map(
      (p) =>
        `<tr data-key="${e(p.key)}"><th scope="row"><code>${e(p.key)}</code></th><td>${e(n(p.longestGapDays))}d${p.fromWindowStart ? ' <span class="muted">(from the window\'s start: no earlier rotation)</span>' : ''}</td><td>${e(n(p.maxAgeDays))}d</td><td>${p.policyMet ? 'yes' : p.notProven ? '<span class="muted">not proven</span>' : '<strong>no</strong>'}</td></tr>`,
    )
    .join('');
  return `<section id="charts" aria-labelledby="charts-h">
<h2 id="charts-h">Over the last year</h2>
<figure>${durationChart(d.rotations)}<figcaption>Duration of each rotation (seconds); red: rolled back.</figcaption></figure>
<figure>${policyChart(d.rotations, d.status.secrets)}<figcaption>Days between successful rotations (dots) and each secret's age now (rings), against max age (dashed).</figcaption></figure>
<div class="scroll"><table id="policy"><thead><tr><th scope="col">Secret</th><th scope="col">Longest interval</th><th scope="col">Max age</th><th scope="col">Policy met</th></tr></thead><tbody>${policy}</tbody></table></div>
</section>`;
}

/**
 * The whole page for a dashboard.
 *
 * @example
 * renderPage(await buildDashboard(stack)).includes('id="secrets"'); // true
 */
export function renderPage(d: Dashboard): string {
  const counts = new Map<string, number>();
  for (const s of d.status.secrets) counts.set(s.state, (counts.get(s.state) ?? 0) + 1);
  const summary = [...counts.entries()]
    .map(([k, v]) => `<span class="badge state-${e(k)}">${e(v)} ${e(STATE_LABEL[k as DisplayState])}</span>`)
    .join(' ');
  const warnings = d.status.warnings;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
<title>rekey · ${e(d.status.stack)}</title>
<link rel="stylesheet" href="/dashboard.css">
<link rel="icon" href="data:,">
</head>
<body>
<header id="top">
<h1>rekey <span class="muted">·</span> ${e(d.status.stack)}</h1>
<p class="summary">${summary} <span class="badge chain-${d.status.audit.ok ? 'intact' : 'broken'}">audit chain ${d.status.audit.ok ? 'intact' : `broken at record ${e(d.status.audit.broken?.seq ?? '?')}`}</span></p>
<p class="muted">As of ${when(d.status.now)} UTC · read-only · <a href="/api/status">/api/status</a> · <a href="/api/rotations">/api/rotations</a> · <a href="/metrics">/metrics</a></p>
</header>
<main>
${warnings.length > 0 ? `<section id="warnings"><h2>Warnings</h2><ul>${warnings.map((w) => `<li>${e(w)}</li>`).join('')}</ul></section>` : ''}
${secretsSection(d)}
${requestsSection(d)}
${chainSection(d)}
${timelineSection(d)}
${chartsSection(d)}
</main>
</body>
</html>
`;
}
