/**
 * The findings as SARIF 2.1.0 (OASIS), the format GitHub code scanning uploads: one run, the rule
 * catalogue as `tool.driver.rules`, a result per finding with its location relative to `root`
 * (`%SRCROOT%`). Severity maps to SARIF `level` and GitHub's `security-severity` property.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, Rule, Severity } from './finding.js';

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = {
  critical: 'error',
  high: 'error',
  medium: 'warning',
  low: 'note',
  info: 'note',
};
/** GitHub's scale: ≥ 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low. */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: '9.5',
  high: '8.0',
  medium: '5.5',
  low: '3.0',
  info: '0.0',
};

function artifact(file: string, root: string): { uri: string; uriBaseId?: string } {
  const rel = path.relative(root, file);
  if (rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel))
    return { uri: rel.split(path.sep).join('/'), uriBaseId: '%SRCROOT%' };
  return { uri: pathToFileURL(file).href };
}

/**
 * @example
 * const doc = toSarif(report.findings, allRules(), { root: process.cwd(), version: '0.1.0' });
 */
export function toSarif(
  findings: readonly Finding[],
  rules: readonly Rule[],
  options: { root: string; version: string },
): object {
  const index = new Map(rules.map((r, i) => [r.id, i]));
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'rekey',
            version: options.version,
            rules: rules.map((r) => ({
              id: r.id,
              name: r.name,
              shortDescription: { text: r.summary },
              defaultConfiguration: { level: LEVEL[r.severity] },
              properties: { 'security-severity': SECURITY_SEVERITY[r.severity], tags: ['security'] },
            })),
          },
        },
        originalUriBaseIds: { '%SRCROOT%': { uri: pathToFileURL(`${options.root}${path.sep}`).href } },
        results: findings.map((f) => ({
          ruleId: f.rule,
          ...(index.has(f.rule) ? { ruleIndex: index.get(f.rule) } : {}),
          level: LEVEL[f.severity],
          message: { text: `${f.message}. ${f.why} Fix: ${f.fix}` },
          properties: { severity: f.severity, ...(f.keys ? { keys: f.keys } : {}) },
          ...(f.location
            ? {
                locations: [
                  {
                    physicalLocation: {
                      artifactLocation: artifact(f.location.file, options.root),
                      ...(f.location.line ? { region: { startLine: f.location.line } } : {}),
                    },
                  },
                ],
              }
            : {}),
        })),
      },
    ],
  };
}
