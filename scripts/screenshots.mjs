#!/usr/bin/env node
// Screenshots for the docs, from a real stack through the built CLI: `rekey demo --keep` (PostgreSQL,
// Redis, the Grafana stand-in, the app; two rotations), one more rotation that fails at verify and
// rolls back, then docs/dashboard.png (+ docs/dashboard-dark.png) from the kept stack's `rekey serve`
// and docs/report.png from `rekey report --format html`, in Debian's Chromium (playwright-core, no
// browser download). The kept stack is stopped with its stop-demo.sh at the end.
// Usage: npm run build && node scripts/screenshots.mjs
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const DOCS = path.join(ROOT, 'docs');

/** Runs a command; resolves with its output; rejects on a non-zero exit unless `allowFail`. */
function run(cmd, args, { cwd = ROOT, env = {}, allowFail = false } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => {
      stdout += b;
    });
    child.stderr.on('data', (b) => {
      stderr += b;
    });
    child.on('close', (code) => {
      if (code !== 0 && !allowFail)
        reject(new Error(`${path.basename(cmd)} ${args[0]} ${args[1] ?? ''} exited ${code}\n${stderr}`));
      else resolve({ code, stdout, stderr });
    });
  });
}

/** Debian's chromium by path: REKEY_CHROMIUM, else chromium / chromium-browser on PATH. */
function findChromium() {
  const ok = (f) => {
    try {
      accessSync(f, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (process.env.REKEY_CHROMIUM) return process.env.REKEY_CHROMIUM;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    for (const name of ['chromium', 'chromium-browser'])
      if (ok(path.join(dir, name))) return path.join(dir, name);
  }
  throw new Error('no chromium found: apt-get install chromium, or set REKEY_CHROMIUM');
}

const day = (d) => d.toISOString().slice(0, 10);

const demo = await run(process.execPath, [CLI, 'demo', '--keep', '--json']);
const doc = JSON.parse(demo.stdout);
const dir = doc.dir;
try {
  // A rolled-back rotation for the timeline (REKEY_FAIL_AT: the fault hook the tests use).
  await run(
    process.execPath,
    [
      CLI,
      'rotate',
      '--yes',
      '--only',
      'REDIS_PASSWORD',
      '--ticket',
      'DEMO-3',
      '--operator',
      'demo@rekey.local',
    ],
    {
      cwd: dir,
      env: { REKEY_FAIL_AT: 'verify' },
      allowFail: true,
    },
  );
  const report = path.join(dir, 'evidence.html');
  const now = new Date();
  await run(
    process.execPath,
    [
      CLI,
      'report',
      '--from',
      day(new Date(now.getTime() - 30 * 86_400_000)),
      '--to',
      day(now),
      '--format',
      'html',
      '--out',
      report,
    ],
    { cwd: dir },
  );

  const browser = await chromium.launch({
    executablePath: findChromium(),
    headless: true,
    // Chromium refuses to run as root with its sandbox; only then is it off (our own local pages).
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  });
  try {
    for (const scheme of ['light', 'dark']) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, colorScheme: scheme });
      const res = await page.goto(doc.dashboard);
      if (res?.status() !== 200 || !(res.headers()['content-type'] ?? '').includes('text/html')) {
        console.error(`screenshots: ${doc.dashboard} answered ${res?.status()}: no dashboard to shoot`);
        break;
      }
      const file = path.join(DOCS, scheme === 'light' ? 'dashboard.png' : 'dashboard-dark.png');
      await page.screenshot({ path: file, fullPage: true });
      console.log(`wrote ${path.relative(ROOT, file)}`);
      await page.close();
    }
    const page = await browser.newPage({ viewport: { width: 1000, height: 1300 }, colorScheme: 'light' });
    await page.goto(pathToFileURL(report).href);
    await page.screenshot({ path: path.join(DOCS, 'report.png') });
    console.log('wrote docs/report.png');
  } finally {
    await browser.close();
  }
} finally {
  const stop = await run('bash', [path.join(dir, 'stop-demo.sh')], { cwd: '/', allowFail: true });
  if (stop.code !== 0) console.error(`screenshots: stop-demo.sh exited ${stop.code}: ${stop.stderr}`);
}
