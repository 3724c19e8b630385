/**
 * The rotate benchmark's rows per store (bench/rotate-stores.ts) run once, quickly (one rotation per
 * store, results into a temp folder): proves the script works end to end against the stand-ins — not
 * a timed test, no number is checked but that each store's rotation ran.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const base = process.env.REKEY_STACK_TMPDIR ?? os.tmpdir();
let out: string | undefined;
afterEach(async () => {
  if (out !== undefined) await rm(out, { recursive: true, force: true });
  out = undefined;
});

const run = (args: string[]) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO, 'dist/bench/run.js'), ...args], {
      cwd: REPO,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('close', (code) => resolve({ code, stderr }));
  });

describe('bench rotate --stores', () => {
  it('writes a row per store (env file, vault-kv, aws-ssm, aws-secretsmanager), each rotated', async () => {
    out = await mkdtemp(path.join(base, 'rekey-bench-out-'));
    const before = new Set(await readdir(base));
    const r = await run(['rotate', '--stores', '--runs', '1', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('NodeVersionSupportWarning');
    const data = JSON.parse(await readFile(path.join(out, 'rotate-stores.json'), 'utf8')) as {
      results: Array<{ store: string; runs: Array<{ wallMs: number; commitMs: number }> }>;
    };
    expect(data.results.map((r) => r.store)).toEqual([
      'env-file',
      'vault-kv',
      'aws-ssm',
      'aws-secretsmanager',
    ]);
    for (const row of data.results) {
      expect(row.runs).toHaveLength(1);
      expect(row.runs[0]?.wallMs).toBeGreaterThan(0);
    }
    const md = await readFile(path.join(out, 'rotate-stores.md'), 'utf8');
    for (const store of ['env-file', 'vault-kv', 'aws-ssm', 'aws-secretsmanager'])
      expect(md).toMatch(new RegExp(`^\\| ${store} \\| \\d+ ms \\|`, 'm'));
    // Each store's stack folder was removed after its rows.
    const ours = /^rekey-bench-(env-file|vault-kv|aws-ssm|aws-secretsmanager)-/;
    const left = (await readdir(base)).filter((f) => !before.has(f) && ours.test(f));
    expect(left).toEqual([]);
  }, 180_000);
});
