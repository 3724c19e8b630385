/**
 * The dashboard of `rekey serve` (built CLI) in a real Chromium, after real rotations of a stack
 * whose env file says its secrets were last rotated 200 days ago: JWT_SECRET rotated (approved),
 * SINGLE_PASSWORD's rotation rolled back at verify, API_SECRET_KEY and OVERLAP_PASSWORD overdue. The
 * page loads under its CSP with its stylesheet, shows the overdue secrets as overdue and the
 * rolled-back rotation with its failed step, fits a phone's width, holds no value in any encoding in
 * its text, its DOM or any response the browser received; bound to a non-loopback address with a
 * token, a request without it is refused with 401 (browser and fetch) and one with it is served.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page, Response } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { approved, type GovStack, useGovStacks } from '../governance/helpers.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { useBrowser } from './browser.js';
import { OPERATOR, secrets } from './fixtures.js';
import { useServe } from './serve.js';

const { stack } = useGovStacks();
const browser = useBrowser();
const serve = useServe();
const DAY = 86_400_000;
const TOKEN = 'dashboard-token-Vb7Xc2Lk9Qp4Zr6T';

/** The page's document (the tests are typed without the DOM library); only inside page functions. */
type PageDocument = {
  document: {
    documentElement: { scrollWidth: number; clientWidth: number };
    styleSheets: { length: number };
  };
};

interface Scene {
  s: GovStack;
  ok: string;
  failed: string;
}

/** The env file dated 200 days back, one rotation of JWT_SECRET, one of SINGLE_PASSWORD rolled back. */
async function scene(): Promise<Scene> {
  const s = await stack();
  const old = new Date(Date.now() - 200 * DAY).toISOString().replace(/\.\d+Z$/, 'Z');
  await fs.writeFile(s.envFile, `# LastSecretRotation: ${old}\n${await fs.readFile(s.envFile, 'utf8')}`);
  const r1 = await approved(s, { ticket: 'CHG-11', only: ['JWT_SECRET'] });
  const a = await s.run([
    'rotate',
    '--yes',
    '--json',
    '--request',
    r1.id,
    '--only',
    'JWT_SECRET',
    '--operator',
    OPERATOR,
  ]);
  expect(a.code, a.stderr).toBe(0);
  const r2 = await approved(s, { ticket: 'CHG-12', only: ['SINGLE_PASSWORD'] });
  const b = await s.run(['rotate', '--yes', '--json', '--request', r2.id, '--only', 'SINGLE_PASSWORD'], {
    env: { REKEY_FAIL_AT: 'verify' },
  });
  expect(b.code, b.stderr).toBe(1);
  return { s, ok: JSON.parse(a.stdout).id, failed: JSON.parse(b.stdout).id };
}

/** Every response body a page receives (kept in order, read as text). */
function bodies(page: Page): Promise<string>[] {
  const out: Promise<string>[] = [];
  page.on('response', (r: Response) => {
    out.push(r.text().catch(() => ''));
  });
  return out;
}

/** An IPv4 address of this machine that is not loopback, or 0.0.0.0 when it has none. */
function nonLoopback(): string {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '0.0.0.0';
}

describe('dashboard in Chromium', () => {
  it('shows overdue secrets, the rolled-back rotation and its failed step; no value anywhere', async () => {
    const { s, ok, failed } = await scene();
    const server = await serve(s);
    const page = await (await browser()).newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      // A failed load is checked by its response below (the page names an empty icon: no /favicon.ico).
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
    });
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
    const received = bodies(page);
    const res = await page.goto(server.root);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
    // The stylesheet loaded under the CSP (no violation reported).
    expect(
      await page.evaluate(() => (globalThis as unknown as PageDocument).document.styleSheets.length),
    ).toBe(1);

    // Secrets: the overdue ones in their overdue state, the rolled-back one needing attention.
    const row = (key: string) => page.locator(`#secrets tr.secret[data-key="${key}"]`);
    await expect.poll(() => page.locator('#secrets tr.secret').count()).toBe(4);
    for (const key of ['API_SECRET_KEY', 'OVERLAP_PASSWORD']) {
      expect(await row(key).getAttribute('data-state')).toBe('overdue');
      expect(await row(key).getAttribute('data-status')).toBe('overdue');
      expect((await row(key).locator('.badge').first().textContent())?.toLowerCase()).toContain('overdue');
      expect(await row(key).locator('.agetext').textContent()).toMatch(/^200(\.\d)?d \/ 90d$/);
      expect(await row(key).locator('.due').textContent()).toMatch(/\d+d ago/);
    }
    expect(await row('JWT_SECRET').getAttribute('data-state')).toBe('ok');
    expect(await row('SINGLE_PASSWORD').getAttribute('data-state')).toBe('needs-attention');

    // The timeline: the rolled-back rotation, where it failed, its steps; the completed one.
    const back = page.locator(`#timeline li.rotation[data-rotation="${failed}"]`);
    expect(await back.getAttribute('data-outcome')).toBe('rolled-back');
    expect(await back.locator('.failed-step').textContent()).toBe('verify');
    expect(await back.locator('.failure').textContent()).toContain('ERR_INJECTED_FAULT');
    const failedSteps = back.locator('li.step.failed');
    expect(await failedSteps.count()).toBe(1);
    expect(await failedSteps.getAttribute('data-step')).toBe('verify');
    expect(await failedSteps.isVisible()).toBe(true);
    const done = page.locator(`#timeline li.rotation[data-rotation="${ok}"]`);
    expect(await done.getAttribute('data-outcome')).toBe('rotated');
    expect(await done.locator('.operator').textContent()).toBe(OPERATOR);
    expect(await done.locator('.approvers').textContent()).toMatch(/alice@example\.com.*bob@example\.com/s);
    expect(await page.locator('#chain').getAttribute('data-chain')).toBe('intact');

    // The JSON routes, through the same browser.
    for (const route of ['api/status', 'api/rotations']) {
      const r = await page.goto(new URL(route, server.root).href);
      expect(r?.status()).toBe(200);
    }
    const status = JSON.parse(await (await page.goto(new URL('api/status', server.root).href))!.text());
    expect(status.secrets.map((x: { key: string; state: string }) => [x.key, x.state]).sort()).toEqual([
      ['API_SECRET_KEY', 'overdue'],
      ['JWT_SECRET', 'ok'],
      ['OVERLAP_PASSWORD', 'overdue'],
      ['SINGLE_PASSWORD', 'needs-attention'],
    ]);
    await page.goto(server.root);

    // No value and no value fingerprint: rendered text, DOM, every response body received.
    const values = await secrets(s);
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a reader sees
    const places = [await page.innerText('body'), await page.content(), ...(await Promise.all(received))];
    expect(places.length).toBeGreaterThanOrEqual(6); // page, stylesheet, two JSON routes, ...
    record({
      kind: 'canary',
      suite: 'browser',
      scope: 'dashboard in Chromium: text, DOM and every response body; old, new values and fingerprints',
      values: values.length,
      places: places.length,
      occurrences: leakOccurrences(values, places),
    });
    expect(findLeak(values, places)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone: no horizontal overflow at 390 px, the secrets and timeline readable', async () => {
    const { s } = await scene();
    const server = await serve(s);
    const context = await (await browser()).newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 3,
      isMobile: true,
      hasTouch: true,
    });
    try {
      const page = await context.newPage();
      expect((await page.goto(server.root))?.status()).toBe(200);
      const widths = await page.evaluate(() => {
        const d = (globalThis as unknown as PageDocument).document.documentElement;
        return { scroll: d.scrollWidth, client: d.clientWidth };
      });
      expect(widths.client).toBe(390);
      expect(widths.scroll).toBeLessThanOrEqual(widths.client);
      expect(await page.locator('#secrets').isVisible()).toBe(true);
      expect(await page.locator('#timeline li.rotation').first().isVisible()).toBe(true);
    } finally {
      await context.close();
    }
  });

  it('on a non-loopback address with --token-file: 401 without the token, the page with it', async () => {
    const s = await stack();
    const tokenFile = path.join(s.dir, 'dashboard.token');
    await fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const host = nonLoopback();
    const server = await serve(s, ['--host', host, '--token-file', tokenFile]);
    const root = server.root.replace('0.0.0.0', '127.0.0.1');
    expect(host).not.toMatch(/^127\./);

    const b = await browser();
    const anonymous = await b.newContext();
    try {
      const page = await anonymous.newPage();
      for (const route of ['', 'api/status', 'api/rotations', 'metrics', 'dashboard.css']) {
        const r = await page.goto(new URL(route, root).href);
        expect(r?.status(), route).toBe(401);
        expect(r?.headers()['www-authenticate']).toMatch(/^Bearer/);
        const text = await r!.text();
        expect(text).not.toMatch(/JWT_SECRET|SINGLE_PASSWORD|rotation/);
      }
      const wrong = await fetch(root, { headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` } });
      expect(wrong.status).toBe(401);
      expect((await fetch(root)).status).toBe(401);
    } finally {
      await anonymous.close();
    }

    const withToken = await b.newContext({ extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` } });
    try {
      const page = await withToken.newPage();
      const r = await page.goto(root);
      expect(r?.status()).toBe(200);
      expect(await page.locator('#secrets tr.secret').count()).toBe(4);
      expect(findLeak([TOKEN], [await page.content()])).toBeUndefined();
    } finally {
      await withToken.close();
    }
  });
});
