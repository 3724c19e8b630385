/**
 * The evidence report as Markdown and as printable HTML (one section per secret, each on its own
 * page; every value HTML-escaped; no script, a CSP that allows none).
 */
import type { EvidenceReport, ReportRotation, ReportSecret } from './build.js';

const yes = (b: boolean) => (b ? 'yes' : 'NO');
const day = (iso: string) => iso.slice(0, 10);

function chainLine(r: EvidenceReport): string {
  const a = r.audit;
  const head = a.head ? `head seq ${a.head.seq}, sha256 ${a.head.hash}` : 'empty log';
  if (a.ok)
    return `intact (${a.records} records, ${head}${a.macsChecked ? ', record MACs checked' : ', MACs not checked: no audit key'})`;
  return `BROKEN at record ${a.broken?.seq ?? '?'}: ${a.broken?.reason ?? 'unknown'} (${head})`;
}

function approvers(r: ReportRotation): string {
  if (r.approvals.length > 0) {
    return r.approvals
      .map((a) => `${a.role}: ${a.principal}${a.fingerprint ? ` (${a.fingerprint})` : ''}`)
      .join('; ');
  }
  if (r.unattended) return 'standing approval (unattended: true)';
  if (r.breakGlass) return 'break-glass (approvals after the fact)';
  return 'none recorded';
}

function gapText(s: ReportSecret): string {
  const g = s.longestGap;
  return `${g.days}d (${day(g.from)}${g.fromPeriodStart ? ' period start' : ''} → ${day(g.to)}) against max age ${s.maxAgeDays}d`;
}

// ---------------------------------------------------------------- Markdown

/** Escapes what Markdown table cells and text would interpret. */
function md(text: string): string {
  return text.replace(/[\\|`*_[\]<>#]/g, (c) => `\\${c}`).replace(/\r?\n/g, ' ');
}

/**
 * @example
 * renderMarkdown(report).startsWith('# Evidence report'); // true
 */
export function renderMarkdown(r: EvidenceReport): string {
  const out: string[] = [
    `# Evidence report: ${md(r.stack)}`,
    '',
    `Period ${day(r.period.from)} to ${day(r.period.to)} (exclusive), generated ${r.generatedAt}.`,
    '',
    `Audit chain: ${md(chainLine(r))}`,
    '',
    '## Summary',
    '',
    '| secret | type | rotations | longest interval | max age | policy met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.summary.map(
      (s) =>
        `| ${md(s.key)} | ${md(s.type)} | ${s.rotations} | ${s.longestGapDays}d | ${s.maxAgeDays}d | ${yes(s.policyMet)} |`,
    ),
  ];
  for (const s of r.secrets) {
    out.push(
      '',
      `## ${md(s.key)} (${md(s.type)})`,
      '',
      `Longest interval without a rotation: ${md(gapText(s))}. Policy met: ${yes(s.policyMet)}.`,
      '',
    );
    if (s.rotations.length === 0) out.push('No rotation in the period.');
    for (const x of s.rotations) {
      out.push(
        `### ${md(x.time)} ${md(x.kind)} ${md(x.rotationId ?? '')}: ${md(x.outcome)}`,
        '',
        `- trigger: ${md(x.trigger ?? 'unknown')}`,
        `- operator: ${md(x.operator)}`,
        `- ticket: ${md(x.ticket ?? 'none')}`,
        `- approvals: ${md(approvers(x))}`,
        ...(x.breakGlass ? [`- break-glass: ${md(x.breakGlass)}`] : []),
        ...(x.failedPhase || x.errorCode
          ? [`- failed: ${md(x.failedPhase ?? '?')} (${md(x.errorCode ?? '')})`]
          : []),
        ...x.attachments.map(
          (a) =>
            `- attachment: ${md(a.name)}${a.sha256 ? ` sha256 ${md(a.sha256)}` : ''}${a.findings !== undefined ? `, ${a.findings} findings` : ''}`,
        ),
      );
      if (x.verification.length > 0) {
        out.push('', '| check | expected | seen | ok |', '| --- | --- | --- | --- |');
        for (const v of x.verification) {
          out.push(`| ${md(v.name)} | ${md(v.expected ?? '')} | ${md(v.detail)} | ${yes(v.ok)} |`);
        }
      }
      out.push('');
    }
  }
  out.push('', '## Break-glass', '');
  if (r.breakGlass.length === 0) out.push('No break-glass use in the period.');
  for (const b of r.breakGlass) {
    out.push(
      `- ${md(b.time)} ${md(b.keys.join(', '))} by ${md(b.operator)}: ${md(b.reason)}; approvals: ${
        b.approvals.length > 0
          ? md(
              b.approvals
                .map(
                  (a) => `${a.role} ${a.principal}${a.fingerprint ? ` (${a.fingerprint})` : ''} at ${a.time}`,
                )
                .join('; '),
            )
          : 'none yet'
      }`,
    );
  }
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------- HTML

const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/**
 * @example
 * escapeHtml('<script>'); // '&lt;script&gt;'
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#111}
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #999;padding:.25em .5em;text-align:left;vertical-align:top}
.no{color:#a00;font-weight:bold}.yes{color:#060}code{font-size:12px}
@media print{section{page-break-before:always;break-before:page}body{margin:0}}`;

/**
 * @example
 * renderHtml(report).includes('<script'); // false, whatever the records hold
 */
export function renderHtml(r: EvidenceReport): string {
  const e = escapeHtml;
  const flag = (b: boolean) => `<span class="${b ? 'yes' : 'no'}">${yes(b)}</span>`;
  const rows = r.summary
    .map(
      (s) =>
        `<tr><td>${e(s.key)}</td><td>${e(s.type)}</td><td>${s.rotations}</td><td>${s.longestGapDays}d</td><td>${s.maxAgeDays}d</td><td>${flag(s.policyMet)}</td></tr>`,
    )
    .join('\n');
  const rotation = (
    x: ReportRotation,
  ) => `<h3>${e(x.time)} ${e(x.kind)} <code>${e(x.rotationId ?? '')}</code>: ${e(x.outcome)}</h3>
<table>
<tr><th>trigger</th><td>${e(x.trigger ?? 'unknown')}</td></tr>
<tr><th>operator</th><td>${e(x.operator)}</td></tr>
<tr><th>ticket</th><td>${e(x.ticket ?? 'none')}</td></tr>
<tr><th>approvals</th><td>${e(approvers(x))}</td></tr>
${x.breakGlass ? `<tr><th>break-glass</th><td>${e(x.breakGlass)}</td></tr>` : ''}
${x.failedPhase || x.errorCode ? `<tr><th>failed</th><td>${e(x.failedPhase ?? '?')} (${e(x.errorCode ?? '')})</td></tr>` : ''}
${x.attachments.map((a) => `<tr><th>attachment</th><td>${e(a.name)}${a.sha256 ? ` sha256 <code>${e(a.sha256)}</code>` : ''}${a.findings !== undefined ? `, ${a.findings} findings` : ''}</td></tr>`).join('\n')}
</table>
${
  x.verification.length > 0
    ? `<table><tr><th>check</th><th>expected</th><th>seen</th><th>ok</th></tr>
${x.verification.map((v) => `<tr><td>${e(v.name)}</td><td>${e(v.expected ?? '')}</td><td>${e(v.detail)}</td><td>${flag(v.ok)}</td></tr>`).join('\n')}
</table>`
    : ''
}`;
  const sections = r.secrets
    .map(
      (s) => `<section>
<h2>${e(s.key)} (${e(s.type)})</h2>
<p>Longest interval without a rotation: ${e(gapText(s))}. Policy met: ${flag(s.policyMet)}.</p>
${s.rotations.length === 0 ? '<p>No rotation in the period.</p>' : s.rotations.map(rotation).join('\n')}
</section>`,
    )
    .join('\n');
  const glass =
    r.breakGlass.length === 0
      ? '<p>No break-glass use in the period.</p>'
      : `<ul>${r.breakGlass
          .map(
            (b) =>
              `<li>${e(b.time)} ${e(b.keys.join(', '))} by ${e(b.operator)}: ${e(b.reason)}; approvals: ${
                b.approvals.length > 0
                  ? e(
                      b.approvals
                        .map(
                          (a) =>
                            `${a.role} ${a.principal}${a.fingerprint ? ` (${a.fingerprint})` : ''} at ${a.time}`,
                        )
                        .join('; '),
                    )
                  : 'none yet'
              }</li>`,
          )
          .join('\n')}</ul>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Evidence report: ${e(r.stack)} ${e(day(r.period.from))} to ${e(day(r.period.to))}</title>
<style>${CSS}</style></head><body>
<h1>Evidence report: ${e(r.stack)}</h1>
<p>Period ${e(day(r.period.from))} to ${e(day(r.period.to))} (exclusive), generated ${e(r.generatedAt)}.</p>
<p>Audit chain: ${r.audit.ok ? '' : '<span class="no">'}${e(chainLine(r))}${r.audit.ok ? '' : '</span>'}</p>
<h2>Summary</h2>
<table><tr><th>secret</th><th>type</th><th>rotations</th><th>longest interval</th><th>max age</th><th>policy met</th></tr>
${rows}
</table>
${sections}
<section><h2>Break-glass</h2>
${glass}
</section>
</body></html>
`;
}
