/** Findings by severity from scanner reports in their documented JSON formats (fixtures in test/fixtures/scans). */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { countFindings, summarizeAttachment } from '../../src/governance/attachments/index.js';

const SCANS = path.resolve(import.meta.dirname, '../fixtures/scans');
const read = async (name: string) => JSON.parse(await fs.readFile(path.join(SCANS, name), 'utf8')) as unknown;

describe('scan reports', () => {
  it('counts bandit, safety, npm audit and Trivy findings by severity', async () => {
    expect(countFindings(await read('bandit.json'))).toEqual({
      format: 'bandit',
      findings: { medium: 1, low: 1, high: 1 },
      total: 3,
    });
    expect(countFindings(await read('safety.json'))).toEqual({
      format: 'safety',
      findings: { medium: 1, critical: 1, unknown: 1 },
      total: 3,
    });
    expect(countFindings(await read('npm-audit.json'))).toEqual({
      format: 'npm-audit',
      findings: { high: 1, moderate: 1 },
      total: 2,
    });
    expect(countFindings(await read('trivy.json'))).toEqual({
      format: 'trivy',
      findings: { critical: 2, low: 1, medium: 1, high: 1 },
      total: 5,
    });
  });

  it('handles older and clean reports, and leaves other JSON alone', () => {
    // safety 1.x `--json`: a list of [package, spec, version, advisory, id, …]
    expect(countFindings([['django', '<4.0.2', '4.0.1', 'debug tag', '44742', null, null]])).toEqual({
      format: 'safety',
      findings: { unknown: 1 },
      total: 1,
    });
    expect(countFindings({ errors: [], metrics: { _totals: {} }, results: [] })).toEqual({
      format: 'bandit',
      findings: {},
      total: 0,
    });
    expect(
      countFindings({
        SchemaVersion: 2,
        ArtifactName: 'x',
        Results: [{ Target: 'x', Misconfigurations: [{ Severity: 'LOW', Status: 'PASS' }] }],
      }),
    ).toEqual({
      format: 'trivy',
      findings: {},
      total: 0,
    });
    expect(countFindings({ name: 'package.json' })).toBeUndefined();
    expect(countFindings([1, 2, 3])).toBeUndefined();
  });

  it('summarises a file: name, size, SHA-256, and the findings of a report', async () => {
    const s = await summarizeAttachment(path.join(SCANS, 'trivy.json'));
    expect(s).toMatchObject({ name: 'trivy.json', format: 'trivy', total: 5 });
    expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
    await expect(summarizeAttachment(path.join(SCANS, 'missing.json'))).rejects.toMatchObject({
      code: 'ERR_ATTACHMENT',
    });
    await expect(summarizeAttachment(SCANS)).rejects.toMatchObject({ code: 'ERR_ATTACHMENT' });
  });
});
