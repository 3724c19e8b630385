/** `rekey doctor`: builds the context, runs the checks (src/doctor/), prints, writes SARIF. */
import path from 'node:path';
import { stackValues } from '../config/load.js';
import { doctorContext } from '../doctor/context.js';
import { type Finding, rank, SEVERITIES, type Severity } from '../doctor/finding.js';
import { allRules, runDoctor } from '../doctor/run.js';
import { toSarif } from '../doctor/sarif.js';
import { RekeyError } from '../lib/errors.js';
import { writeFileAtomic } from '../lib/fsx.js';
import { type GlobalOptions, loadStack } from './context.js';
import { printJson, printLines } from './output.js';
import { VERSION } from './version.js';

export interface DoctorCommandOptions {
  json?: boolean;
  sarif?: string;
  failOn: Severity | 'never';
  only?: string[];
  skip?: string[];
}

export async function doctorCommand(g: GlobalOptions, o: DoctorCommandOptions): Promise<void> {
  const known = new Set(allRules().map((r) => r.id));
  const unknown = [...(o.only ?? []), ...(o.skip ?? [])].filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new RekeyError('ERR_USAGE', `unknown rule id(s): ${unknown.join(', ')}`, {
      hint: `The rules are ${[...known].join(', ')} (docs/doctor.md).`,
    });
  }
  const loaded = await loadStack(g.config);
  const values = await stackValues(loaded);
  const ctx = doctorContext(loaded, values, new Date());
  const report = await runDoctor(ctx, {
    ...(o.only ? { only: o.only } : {}),
    ...(o.skip ? { skip: o.skip } : {}),
  });
  const failing =
    o.failOn === 'never' ? [] : report.findings.filter((f) => rank(f.severity) >= rank(o.failOn as Severity));

  if (o.sarif !== undefined) {
    const doc = toSarif(report.findings, allRules(), { root: process.cwd(), version: VERSION });
    await writeFileAtomic(path.resolve(o.sarif), `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o644 });
  }
  if (o.json) {
    printJson({
      ok: failing.length === 0,
      stack: loaded.stack,
      failOn: o.failOn,
      checked: report.checked,
      counts: counts(report.findings),
      findings: report.findings,
    });
  } else {
    printLines(render(loaded.stack, report.findings, report.checked));
  }
  if (failing.length > 0) {
    throw new RekeyError(
      'ERR_DOCTOR_FINDINGS',
      `${failing.length} finding(s) at or above ${o.failOn}: ${[...new Set(failing.map((f) => f.rule))].join(', ')}`,
    );
  }
}

function counts(findings: readonly Finding[]): Record<Severity, number> {
  const out = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  for (const f of findings) out[f.severity]++;
  return out;
}

function render(stack: string, findings: readonly Finding[], checked: readonly string[]): string[] {
  const c = counts(findings);
  const summary = [...SEVERITIES]
    .reverse()
    .filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${s}`)
    .join(', ');
  const lines = [
    `rekey doctor: stack ${stack}: ${findings.length === 0 ? 'no findings' : `${findings.length} finding(s) (${summary})`}`,
    `checked: ${checked.join(', ')}`,
  ];
  for (const severity of [...SEVERITIES].reverse()) {
    const group = findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    lines.push('', severity.toUpperCase());
    for (const f of group) {
      const where = f.location ? ` (${f.location.file}${f.location.line ? `:${f.location.line}` : ''})` : '';
      lines.push(`  ${f.rule}  ${f.message}${where}`, `         why: ${f.why}`, `         fix: ${f.fix}`);
    }
  }
  return lines;
}
