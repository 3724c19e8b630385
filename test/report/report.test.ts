/**
 * `rekey report` through the built CLI after real rotations (one approved and rotated, one approved
 * and rolled back at verify): the Markdown, JSON and HTML contents, escaping, the canary scan, and
 * bad periods refused with ERR_USAGE and nothing written.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INITIAL } from '../engine/stack.js';
import { approved, type GovStack, useGovStacks } from '../governance/helpers.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';

const { stack } = useGovStacks();
const TICKET = 'CHG-<script>alert(1)</script>';

async function twoRotations(): Promise<{ s: GovStack; ok: string; failed: string }> {
  const s = await stack();
  const r1 = await approved(s, { ticket: TICKET });
  const a = await s.run([
    'rotate',
    '--yes',
    '--json',
    '--request',
    r1.id,
    '--operator',
    'oncall@example.com',
  ]);
  expect(a.code, a.stderr).toBe(0);
  const r2 = await approved(s, { ticket: 'CHG-2' });
  const b = await s.run(['rotate', '--yes', '--json', '--request', r2.id], {
    env: { REKEY_FAIL_AT: 'verify' },
  });
  expect(b.code).not.toBe(0);
  return { s, ok: JSON.parse(a.stdout).id, failed: JSON.parse(b.stdout).id };
}

const today = () => new Date().toISOString().slice(0, 10);

describe('rekey report', () => {
  it('md, json and html hold the rotations, approvers, verification, chain head; never a value', async () => {
    const { s, ok, failed } = await twoRotations();
    const period = ['--from', today(), '--to', today()];
    const json = await s.run(['report', ...period, '--format', 'json']);
    expect(json.code, json.stderr).toBe(0);
    const r = JSON.parse(json.stdout);
    expect(r.audit).toMatchObject({ ok: true });
    expect(r.audit.head.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(r.summary.map((x: { key: string }) => x.key)).toEqual([
      'JWT_SECRET',
      'API_SECRET_KEY',
      'SINGLE_PASSWORD',
      'OVERLAP_PASSWORD',
    ]);
    expect(
      r.summary.every((x: { policyMet: boolean; rotations: number }) => x.policyMet && x.rotations === 1),
    ).toBe(true);
    const single = r.secrets.find((x: { key: string }) => x.key === 'SINGLE_PASSWORD');
    expect(single.rotations.map((x: { rotationId: string }) => x.rotationId)).toEqual([ok, failed]);
    const [done, back] = single.rotations;
    expect(done).toMatchObject({ outcome: 'rotated', operator: 'oncall@example.com', ticket: TICKET });
    expect(done.approvals).toEqual([
      expect.objectContaining({
        role: 'security-lead',
        principal: 'alice@example.com',
        fingerprint: expect.stringMatching(/^SHA256:/),
      }),
      expect.objectContaining({
        role: 'devops-lead',
        principal: 'bob@example.com',
        fingerprint: expect.stringMatching(/^SHA256:/),
      }),
    ]);
    expect(done.verification).toContainEqual(
      expect.objectContaining({
        name: 'SINGLE_PASSWORD (old)',
        ok: true,
        detail: 'rejected',
        expected: 'rejected',
      }),
    );
    expect(back).toMatchObject({
      outcome: 'rolled-back',
      failedPhase: 'verify',
      errorCode: 'ERR_INJECTED_FAULT',
    });

    const md = await s.run(['report', ...period]);
    expect(md.code, md.stderr).toBe(0);
    expect(md.stdout).toMatch(/^# Evidence report/);
    expect(md.stdout).toMatch(/\| SINGLE\\_PASSWORD \| command \| 1 \| [\d.]+d \| 90d \| yes \|/);
    expect(md.stdout).toContain('SINGLE\\_PASSWORD (old) | rejected | rejected | yes');
    expect(md.stdout).toContain(r.audit.head.hash);

    const out = path.join(s.dir, 'evidence.html');
    const html = await s.run(['report', ...period, '--format', 'html', '--out', out]);
    expect(html.code, html.stderr).toBe(0);
    const page = await fs.readFile(out, 'utf8');
    expect(page).not.toMatch(/<script/i);
    expect(page).toContain('CHG-&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('page-break-before:always');
    expect(page.match(/<section>/g)?.length).toBe(5);
    expect(page).toContain(r.audit.head.hash);

    // No value, and no value's fingerprint (the audit log's HMACs of values) anywhere.
    const log = (await fs.readFile(s.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const fingerprints = log.flatMap((x) =>
      (x.secrets ?? []).map((y: { fingerprint: string }) => y.fingerprint),
    );
    expect(fingerprints.length).toBeGreaterThan(0);
    const values = [...Object.values(INITIAL), ...[...(await s.env()).values()].filter((v) => v.length >= 8)];
    const texts = [json.stdout, md.stdout, page, json.stderr, md.stderr, html.stderr];
    record({
      kind: 'canary',
      suite: 'report',
      scope: 'evidence report md, json, html and output; values and their audit fingerprints',
      values: values.length + fingerprints.length,
      places: texts.length,
      occurrences: leakOccurrences([...values, ...fingerprints], texts),
    });
    expect(findLeak(values, texts)).toBeUndefined();
    for (const f of fingerprints) for (const t of texts) expect(t).not.toContain(f);
  });

  it('a period without rotations: policy not met when the interval exceeds max age', async () => {
    const s = await stack();
    const r = await s.run(['report', '--from', '2020-01-01', '--to', '2020-12-31', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.summary.every((x: { policyMet: boolean }) => !x.policyMet)).toBe(true);
    expect(doc.secrets[0].longestGap).toMatchObject({ fromPeriodStart: true, days: 366 });
  });

  it.each([
    [['--from', '2026-13-45', '--to', '2026-12-31'], /--from "2026-13-45" is not a date/],
    [['--from', '2026-01-01', '--to', 'yesterday'], /--to "yesterday" is not a date/],
    [['--from', '2026-02-01', '--to', '2026-01-01'], /--to 2026-01-01 is not after --from 2026-02-01/],
  ])('bad period %j: ERR_USAGE, exit 2, what and what to do, nothing written', async (args, what) => {
    const s = await stack();
    const out = path.join(s.dir, 'evidence.md');
    const r = await s.run(['report', ...args, '--out', out]);
    record({
      kind: 'bad-input',
      suite: 'report',
      case: `rekey report ${args.join(' ')}`,
      exit: r.code,
      code: 'ERR_USAGE',
      unchanged: !existsSync(out),
    });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(what);
    expect(r.stderr).toMatch(/ERR_USAGE/);
    expect(r.stderr).toMatch(/YYYY-MM-DD|--from\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(out)).toBe(false);
  });
});
