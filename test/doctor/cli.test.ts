/**
 * `rekey doctor` through the built CLI: grouped output, --json, --sarif (SARIF 2.1.0 with the rule
 * catalogue and locations), --fail-on / exit 3, --only / --skip, bad input (ERR_USAGE, exit 2, nothing
 * written), and the canary scan over everything it printed and wrote.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findLeak } from '../helpers/leak-forms.js';
import { doctorStack, STRONG } from './helpers.js';

const WEAK = {
  ...STRONG,
  JWT_SECRET: 'tooShortButRandom9Q',
  JWT_SECRET_PREVIOUS: '',
  API_SECRET_KEY: 'changeme',
};

describe('rekey doctor', () => {
  it('reports by severity, exits 3 at --fail-on, writes SARIF, and never prints a value', async () => {
    const s = await doctorStack(WEAK);
    const sarif = path.join(s.dir, 'doctor.sarif');
    const r = await s.cli(['--sarif', sarif]);
    expect(r.code, r.stderr).toBe(3);
    // Human output goes to stderr (stdout is for --json), as for every command.
    expect(r.stderr).toMatch(/^rekey doctor: stack \S+: \d+ finding\(s\) \(.*high/m);
    expect(r.stderr.indexOf('HIGH')).toBeLessThan(r.stderr.indexOf('MEDIUM'));
    expect(r.stderr).toMatch(
      /RK101 {2}JWT_SECRET is 19 bytes; HS256 needs at least 32 \(.*\.env\.production:1\)/,
    );
    expect(r.stderr).toMatch(/RK104 {2}API_SECRET_KEY is a well-known default value/);
    expect(r.stderr).toMatch(/ERR_DOCTOR_FINDINGS: \d+ finding\(s\) at or above high: .*RK101/);

    const doc = JSON.parse(await fs.readFile(sarif, 'utf8'));
    expect(doc.version).toBe('2.1.0');
    const run = doc.runs[0];
    expect(run.tool.driver.rules.map((x: { id: string }) => x.id)).toContain('RK201');
    const rk101 = run.results.find((x: { ruleId: string }) => x.ruleId === 'RK101');
    expect(rk101).toMatchObject({
      level: 'error',
      locations: [
        {
          physicalLocation: {
            artifactLocation: { uri: '.env.production', uriBaseId: '%SRCROOT%' },
            region: { startLine: 1 },
          },
        },
      ],
    });
    expect(run.tool.driver.rules[rk101.ruleIndex].id).toBe('RK101');

    const json = await s.cli(['--json', '--fail-on', 'never']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout);
    expect(report.ok).toBe(true);
    expect(report.findings.map((f: { rule: string }) => f.rule)).toEqual(
      expect.arrayContaining(['RK101', 'RK104']),
    );

    const leak = findLeak(
      [WEAK.JWT_SECRET, STRONG.REDIS_PASSWORD],
      [r.stdout, r.stderr, json.stdout, json.stderr, await fs.readFile(sarif, 'utf8')],
    );
    expect(leak).toBeUndefined();
  });

  it('--only and --skip select rules; exit 0 when nothing reaches --fail-on', async () => {
    const s = await doctorStack(WEAK);
    const only = await s.cli(['--json', '--only', 'RK104']);
    expect(only.code).toBe(3);
    expect(JSON.parse(only.stdout).findings.map((f: { rule: string }) => f.rule)).toEqual(['RK104']);
    const skipped = await s.cli(['--json', '--skip', 'RK101,RK102,RK104,RK601']);
    expect(skipped.code, skipped.stdout).toBe(0);
    const critical = await s.cli(['--fail-on', 'critical']);
    expect(critical.code).toBe(0);
  });

  it('refuses an unknown rule id or severity: exit 2, one line what, one line what to do, nothing written', async () => {
    const s = await doctorStack(WEAK);
    const sarif = path.join(s.dir, 'x.sarif');
    const r = await s.cli(['--only', 'RK999', '--sarif', sarif]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(2);
    expect(r.stderr).toMatch(/ERR_USAGE: unknown rule id\(s\): RK999/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(sarif)).toBe(false);
    const bad = await s.cli(['--fail-on', 'severe']);
    expect(bad.code).toBe(2);
  });
});
