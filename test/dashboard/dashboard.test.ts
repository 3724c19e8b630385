/**
 * The dashboard of `rekey serve` over HTTP, after real rotations through the built CLI (one approved
 * and rotated by an operator and under a ticket holding `<script>`, one rolled back at verify), with a
 * change request waiting for approvals: the secrets table and its states (an overdue one), the
 * rolled-back rotation with its failed step, the approve command, the audit chain intact then broken
 * at record N, escaping, the security headers, read-only methods, and the canary scan of every route.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DashboardRotations, DashboardStatus } from '../../src/dashboard/model.js';
import { serveDashboard } from '../../src/dashboard/serve.js';
import { silentLogger } from '../../src/lib/log.js';
import type { MetricsServer } from '../../src/policy/server.js';
import { INITIAL } from '../engine/stack.js';
import { approved, type GovStack, useGovStacks } from '../governance/helpers.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';

const { stack } = useGovStacks();
const DAY = 86_400_000;
const TICKET = 'CHG-<script>alert(1)</script>';
const OPERATOR = '<script>alert(2)</script>@example.com';

let servers: MetricsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

interface Scene {
  s: GovStack;
  ok: string;
  failed: string;
  pending: string;
  config: string;
}

/** Two real rotations (one rolled back at verify) and a request nobody approved yet. */
async function scene(): Promise<Scene> {
  const s = await stack();
  const r1 = await approved(s, { ticket: TICKET });
  const a = await s.run(['rotate', '--yes', '--json', '--request', r1.id, '--operator', OPERATOR]);
  expect(a.code, a.stderr).toBe(0);
  const r2 = await approved(s, { ticket: 'CHG-2', only: ['SINGLE_PASSWORD'] });
  const b = await s.run(['rotate', '--yes', '--json', '--request', r2.id, '--only', 'SINGLE_PASSWORD'], {
    env: { REKEY_FAIL_AT: 'verify' },
  });
  expect(b.code, b.stderr).toBe(1);
  const r3 = await s.request({ ticket: 'CHG-3', only: ['API_SECRET_KEY'] });
  return {
    s,
    ok: JSON.parse(a.stdout).id,
    failed: JSON.parse(b.stdout).id,
    pending: r3.id,
    config: path.join(s.dir, 'rekey.yaml'),
  };
}

async function start(
  config: string,
  now: () => Date = () => new Date(),
  more: Partial<Parameters<typeof serveDashboard>[0]> = {},
): Promise<MetricsServer> {
  const server = await serveDashboard({
    configPath: config,
    host: '127.0.0.1',
    port: 0,
    log: silentLogger,
    now,
    ...more,
  });
  servers.push(server);
  return server;
}

async function json<T>(url: string): Promise<T> {
  return (await (await fetch(url)).json()) as T;
}

/** The opening tag of the element carrying `attr` (e.g. `data-key="JWT_SECRET"`). */
function tagWith(page: string, attr: string): string {
  const at = page.indexOf(attr);
  expect(at, attr).toBeGreaterThan(0);
  const open = page.lastIndexOf('<', at);
  return page.slice(open, page.indexOf('>', at) + 1);
}

/** The `<li class="rotation" …>…</li>` of a rotation id. */
function rotationItem(page: string, id: string): string {
  const open = page.indexOf(
    `<li class="rotation"`,
    page.lastIndexOf('<li class="rotation"', page.indexOf(`data-rotation="${id}"`)),
  );
  return page.slice(open, page.indexOf('\n</li>', open));
}

describe('rekey serve: the dashboard', { timeout: 240_000 }, () => {
  it('shows the secrets and their states, the timeline with a failed step, the approvals to collect, the chain; escapes; leaks nothing', async () => {
    const { s, ok, failed, pending, config } = await scene();
    let now = new Date();
    const server = await start(config, () => now);

    const res = await fetch(server.root);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("img-src 'self' data:");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/unsafe|script-src/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const page = await res.text();

    // Secrets: rotated just now (ok), the rolled-back one needs attention.
    for (const id of [
      'secrets',
      'timeline',
      'chain',
      'requests',
      'charts',
      'chart-durations',
      'chart-policy',
    ])
      expect(page).toContain(`id="${id}"`);
    expect(tagWith(page, 'data-key="JWT_SECRET"')).toContain('data-state="ok"');
    expect(tagWith(page, 'data-key="SINGLE_PASSWORD"')).toContain('data-state="needs-attention"');
    expect(tagWith(page, 'data-key="SINGLE_PASSWORD"')).toContain('data-status="rotation-failing"');

    // The timeline: the rolled-back rotation shows the step where it failed; the other its approvers.
    const back = rotationItem(page, failed);
    expect(back).toContain('data-outcome="rolled-back"');
    expect(back).toMatch(/<li class="step failed" data-step="verify" data-state="failed">/);
    expect(back).toContain('Failed at <strong class="failed-step">verify</strong> (ERR_INJECTED_FAULT)');
    expect(back).toContain('SINGLE_PASSWORD');
    const done = rotationItem(page, ok);
    expect(done).toContain('data-outcome="rotated"');
    expect(done).toContain('security-lead: alice@example.com');
    expect(done).toContain('devops-lead: bob@example.com');
    expect(done).toMatch(
      /data-step="deploy" data-state="done"><span class="step-id">deploy<\/span> <span class="muted">done · \d+/,
    );

    // Escaping: the ticket and the operator are shown, as text.
    expect(page).not.toMatch(/<script/i);
    expect(done).toContain('ticket <span class="ticket">CHG-&lt;script&gt;alert(1)&lt;/script&gt;</span>');
    expect(done).toContain(
      'operator <span class="operator">&lt;script&gt;alert(2)&lt;/script&gt;@example.com</span>',
    );

    // The request waiting for approvals, with the exact commands.
    expect(tagWith(page, `data-request="${pending}"`)).toContain('data-status="pending"');
    expect(page).toContain(`rekey approve ${pending} --role security-lead --config ${config}`);
    expect(page).toContain(`rekey approve ${pending} --role devops-lead --config ${config}`);

    // The chain is intact.
    expect(tagWith(page, 'id="chain"')).toContain('data-chain="intact"');

    // The JSON documents hold the same data.
    const status = await json<DashboardStatus>(`${server.root}api/status`);
    expect(status.secrets.map((x) => [x.key, x.state])).toEqual([
      ['JWT_SECRET', 'ok'],
      ['API_SECRET_KEY', 'ok'],
      ['SINGLE_PASSWORD', 'needs-attention'],
      ['OVERLAP_PASSWORD', 'ok'],
    ]);
    expect(status.audit).toMatchObject({ ok: true });
    expect(status.requests).toEqual([
      expect.objectContaining({ id: pending, keys: ['API_SECRET_KEY'], ticket: 'CHG-3' }),
    ]);
    const rotations = await json<DashboardRotations>(`${server.root}api/rotations`);
    expect(rotations.rotations.map((r) => r.rotationId)).toEqual([failed, ok]);
    expect(rotations.rotations[0]).toMatchObject({
      outcome: 'rolled-back',
      failedPhase: 'verify',
      keys: ['SINGLE_PASSWORD'],
    });
    expect(rotations.rotations[1]?.keys).toEqual([
      'JWT_SECRET',
      'API_SECRET_KEY',
      'SINGLE_PASSWORD',
      'OVERLAP_PASSWORD',
    ]);
    expect(rotations.rotations[1]?.durationMs).toBeGreaterThan(0);
    // Rotated today, nothing recorded before: the year before it is not known — "not proven", not "no".
    expect(rotations.policy.find((p) => p.key === 'JWT_SECRET')).toMatchObject({
      fromWindowStart: true,
      policyMet: false,
      notProven: true,
    });

    // 100 days on: what was rotated is overdue.
    now = new Date(Date.now() + 100 * DAY);
    const later = await (await fetch(server.root)).text();
    expect(tagWith(later, 'data-key="JWT_SECRET"')).toContain('data-state="overdue"');
    expect(tagWith(later, 'data-key="SINGLE_PASSWORD"')).toContain('data-state="needs-attention"');
    const row = later.slice(later.indexOf('data-key="JWT_SECRET"'));
    expect(row.slice(0, row.indexOf('</tr>'))).toContain('<span class="badge state-overdue">overdue</span>');
    // 100 days without a rotation since the first one: a known miss, "no".
    const policy = (await json<DashboardRotations>(`${server.root}api/rotations`)).policy;
    expect(policy.find((p) => p.key === 'JWT_SECRET')).toMatchObject({ policyMet: false, notProven: false });

    // Read-only: anything but GET and HEAD is refused.
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(server.root, { method });
      expect(r.status).toBe(405);
      expect(r.headers.get('allow')).toBe('GET, HEAD');
    }
    const head = await fetch(`${server.root}api/status`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');

    // Canary: no value (old or new, in any encoding) and no value's audit fingerprint in any route.
    const log = (await fs.readFile(s.auditFile, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const fingerprints = log.flatMap((x) =>
      (x.secrets ?? []).map((y: { fingerprint: string }) => y.fingerprint),
    );
    expect(fingerprints.length).toBeGreaterThan(0);
    const values = [...Object.values(INITIAL), ...[...(await s.env()).values()].filter((v) => v.length >= 8)];
    const texts: string[] = [page, later];
    for (const p of ['', 'index.html', 'api/status', 'api/rotations', 'metrics', 'dashboard.css'])
      texts.push(await (await fetch(`${server.root}${p}`)).text());
    record({
      kind: 'canary',
      suite: 'dashboard',
      scope:
        'rekey serve: /, /api/status, /api/rotations, /metrics, /dashboard.css; values and their audit fingerprints',
      values: values.length + fingerprints.length,
      places: texts.length,
      occurrences: leakOccurrences([...values, ...fingerprints], texts),
    });
    expect(findLeak(values, texts)).toBeUndefined();
    for (const f of fingerprints) for (const t of texts) expect(t).not.toContain(f);
  });

  it('shows the audit chain broken at the record that was altered, and after a truncation', async () => {
    const { s, config } = await scene();
    const server = await start(config);
    const lines = (await fs.readFile(s.auditFile, 'utf8')).split('\n');
    const n = lines.findIndex((l) => l.includes('"ticket":"CHG-2"'));
    expect(n).toBeGreaterThan(0);
    const original = lines.join('\n');

    // An edited record: the chain is broken at it.
    lines[n] = lines[n]!.replace('"ticket":"CHG-2"', '"ticket":"CHG-9"');
    await fs.writeFile(s.auditFile, lines.join('\n'));
    let page = await (await fetch(server.root)).text();
    let status = await json<DashboardStatus>(`${server.root}api/status`);
    expect(status.audit.ok).toBe(false);
    expect(status.audit.broken?.seq).toBe(n + 1);
    expect(tagWith(page, 'id="chain"')).toContain(`data-broken-at="${n + 1}"`);
    expect(tagWith(page, 'id="chain"')).toContain('data-chain="broken"');
    expect(page).toContain(`broken at record ${n + 1}`);

    // The last record cut off: the head kept in the state directory no longer matches.
    const kept = original.trimEnd().split('\n');
    await fs.writeFile(s.auditFile, `${kept.slice(0, -1).join('\n')}\n`);
    page = await (await fetch(server.root)).text();
    status = await json<DashboardStatus>(`${server.root}api/status`);
    expect(status.audit.ok).toBe(false);
    expect(tagWith(page, 'id="chain"')).toContain('data-chain="broken"');
    expect(page).toContain(`broken at record ${status.audit.broken?.seq}`);
  });
});
