/**
 * Findings by severity in the JSON reports of common scanners, from their documented formats
 * (pure: a parsed document in, counts out):
 * - bandit `-f json`: `results[].issue_severity` (LOW, MEDIUM, HIGH, UNDEFINED) beside `metrics`;
 * - safety `check --output json` (2.x): `report_meta` + `vulnerabilities[].severity.cvssv3.base_severity`
 *   (null without a severity: counted as unknown); safety 1.x `--json`: an array of advisories;
 * - npm audit `--json` (v6 and auditReportVersion 2): `metadata.vulnerabilities` {info … critical};
 * - Trivy `--format json` (SchemaVersion 2): `Results[].Vulnerabilities|Misconfigurations|Secrets[].Severity`.
 */

export type ReportFormat = 'bandit' | 'safety' | 'npm-audit' | 'trivy';

export interface ReportFindings {
  readonly format: ReportFormat;
  /** Findings per severity, lower-case (e.g. { high: 2, medium: 1 }). */
  readonly findings: Readonly<Record<string, number>>;
  readonly total: number;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * Recognises a scanner report and counts its findings by severity; undefined for anything else.
 *
 * @example
 * countFindings({ results: [{ issue_severity: 'HIGH' }], metrics: {} });
 * // { format: 'bandit', findings: { high: 1 }, total: 1 }
 */
export function countFindings(doc: unknown): ReportFindings | undefined {
  if (isObject(doc)) {
    if (Array.isArray(doc.results) && isObject(doc.metrics)) return bandit(doc);
    if (isObject(doc.report_meta) && Array.isArray(doc.vulnerabilities)) return safety2(doc);
    if (isObject(doc.metadata) && isObject(doc.metadata.vulnerabilities))
      return npmAudit(doc.metadata.vulnerabilities);
    if ('SchemaVersion' in doc && ('Results' in doc || 'ArtifactName' in doc)) return trivy(doc);
  }
  if (Array.isArray(doc) && doc.length > 0 && doc.every((v) => Array.isArray(v) && v.length >= 5)) {
    return tally(
      'safety',
      doc.map(() => 'unknown'),
    );
  }
  return undefined;
}

function bandit(doc: Json): ReportFindings {
  return tally(
    'bandit',
    list(doc.results).map((r) => (isObject(r) ? severity(r.issue_severity) : 'unknown')),
  );
}

function safety2(doc: Json): ReportFindings {
  return tally(
    'safety',
    list(doc.vulnerabilities).map((v) => {
      if (!isObject(v) || !isObject(v.severity)) return 'unknown';
      const s = v.severity;
      if (isObject(s.cvssv3)) return severity(s.cvssv3.base_severity);
      if (isObject(s.cvss)) return severity(s.cvss.base_severity ?? cvssBand(s.cvss.base_score));
      return 'unknown';
    }),
  );
}

function npmAudit(counts: Json): ReportFindings {
  const findings: Record<string, number> = {};
  let total = 0;
  for (const level of ['critical', 'high', 'moderate', 'low', 'info']) {
    const n = counts[level];
    if (typeof n === 'number' && n > 0) {
      findings[level] = n;
      total += n;
    }
  }
  return { format: 'npm-audit', findings, total };
}

function trivy(doc: Json): ReportFindings {
  const severities: string[] = [];
  for (const result of list(doc.Results)) {
    if (!isObject(result)) continue;
    for (const v of list(result.Vulnerabilities))
      severities.push(isObject(v) ? severity(v.Severity) : 'unknown');
    for (const m of list(result.Misconfigurations)) {
      // With --include-non-failures, passing checks are listed too: only failures are findings.
      if (isObject(m) && (m.Status === undefined || m.Status === 'FAIL'))
        severities.push(severity(m.Severity));
    }
    for (const s of list(result.Secrets)) severities.push(isObject(s) ? severity(s.Severity) : 'unknown');
  }
  return tally('trivy', severities);
}

function severity(v: unknown): string {
  return typeof v === 'string' && v.trim() !== '' ? v.trim().toLowerCase() : 'unknown';
}

/** CVSS v3 qualitative rating of a base score. */
function cvssBand(score: unknown): string {
  if (typeof score !== 'number') return 'unknown';
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'none';
}

function tally(format: ReportFormat, severities: readonly string[]): ReportFindings {
  const findings: Record<string, number> = {};
  for (const s of severities) findings[s] = (findings[s] ?? 0) + 1;
  return { format, findings, total: severities.length };
}
