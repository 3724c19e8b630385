/**
 * The evidence report's HTML (`rekey report --format html`, built CLI, after real rotations) in a real
 * Chromium: it loads under its own CSP, the summary table is there, it prints one section per page
 * (print media and a real PDF), and neither its text nor its DOM holds a value in any encoding.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useGovStacks } from '../governance/helpers.js';
import { findLeak, leakOccurrences } from '../helpers/leak-forms.js';
import { record } from '../helpers/resilience.js';
import { useBrowser } from './browser.js';
import { OPERATOR, rotateTwice, secrets, TICKET, today } from './fixtures.js';

/** The page's window (the tests are typed without the DOM library); only inside page functions. */
type PageWindow = { getComputedStyle(e: unknown): { breakBefore: string } };

const { stack } = useGovStacks();
const browser = useBrowser();

describe('evidence report in Chromium', () => {
  it('loads, shows the summary, prints a page per section, and shows no value', async () => {
    const s = await stack();
    const { ok, failed } = await rotateTwice(s);
    const out = path.join(s.dir, 'evidence.html');
    const r = await s.run(['report', '--from', today(), '--to', today(), '--format', 'html', '--out', out]);
    expect(r.code, r.stderr).toBe(0);

    const page = await (await browser()).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(out).href);
    expect(await page.title()).toMatch(/^Evidence report: /);

    // The summary table: the first table after the "Summary" heading, a row per secret, policy met.
    const summary = page.locator('h2:text-is("Summary") + table');
    await expect.poll(() => summary.count()).toBe(1);
    const rows = await summary.locator('tr').allInnerTexts();
    expect(rows[0]).toMatch(/secret\s+type\s+rotations\s+longest interval\s+max age\s+policy met/);
    expect(rows.slice(1).map((x) => x.split('\t')[0])).toEqual([
      'JWT_SECRET',
      'API_SECRET_KEY',
      'SINGLE_PASSWORD',
      'OVERLAP_PASSWORD',
    ]);
    expect(rows.slice(1).every((x) => x.trim().endsWith('yes'))).toBe(true);

    // The rotations, the escaped ticket shown as text (not markup), the rolled-back one's phase.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a reader sees
    const text = await page.innerText('body');
    expect(text).toContain(ok);
    expect(text).toContain(failed);
    expect(text).toContain(TICKET);
    expect(text).toContain(OPERATOR);
    expect(await page.locator('b').count()).toBe(0);
    expect(text).toMatch(/failed\s+verify \(ERR_INJECTED_FAULT\)/);

    // Printable: on screen sections flow; in print media each one starts a page.
    const breaks = () =>
      page.$$eval('section', (xs) =>
        xs.map((x) => (globalThis as unknown as PageWindow).getComputedStyle(x).breakBefore),
      );
    const screen = await breaks();
    expect(screen.length).toBe(5); // four secrets and break-glass
    expect(screen.every((b) => b !== 'page')).toBe(true);
    await page.emulateMedia({ media: 'print' });
    expect(await breaks()).toEqual(screen.map(() => 'page'));
    const pdf = (await page.pdf({ format: 'A4' })).toString('latin1');
    const pages = pdf.match(/\/Type\s*\/Page(?![s\w])/g)?.length ?? 0;
    expect(pages).toBeGreaterThanOrEqual(1 + screen.length);

    // No value, no value's fingerprint: not in the text, not in the DOM (attributes included).
    const values = await secrets(s);
    const dom = await page.content();
    const places = [text, dom];
    record({
      kind: 'canary',
      suite: 'browser',
      scope: 'evidence report HTML in Chromium: rendered text and DOM; old, new values and fingerprints',
      values: values.length,
      places: places.length,
      occurrences: leakOccurrences(values, places),
    });
    expect(findLeak(values, places)).toBeUndefined();
    expect(errors).toEqual([]);
    await page.close();
  });
});
