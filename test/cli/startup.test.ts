/**
 * Start-up: a command loads only what it needs (issue 17). The built CLI runs with a module hook that
 * prints every module it loads; `rekey status` must not load the engine's run loop, the targets, the
 * deployer, the verifier, notifications or any store, nor a service driver; `rekey plan` of file-held
 * secrets no service driver. The timings themselves are the benchmark's (`npm run bench -- startup`).
 */
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { writeStartupStack } from '../../bench/startup.js';
import { tempDir } from '../helpers/tmp.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

/** A module hook (node --import) printing `LOADED <url>` on stderr for each module loaded. */
const HOOK = `import { register } from 'node:module';
const hook = "import { writeSync } from 'node:fs';" +
  "export async function load(url, context, next) { writeSync(2, 'LOADED ' + url + '\\\\n'); return next(url, context); }";
register('data:text/javascript,' + encodeURIComponent(hook));
`;

/** Service drivers and libraries only some commands need. */
const DRIVERS =
  /\/node_modules\/(pg|redis|@redis|@aws-sdk|@kubernetes|croner|prom-client|age-encryption|jose)\//;

async function loadedBy(args: string[], secrets: number, fileOnly = false): Promise<string[]> {
  const dir = await tempDir('rekey-startup-');
  await writeStartupStack(dir, secrets, fileOnly);
  const hook = path.join(dir, 'hook.mjs');
  await fs.writeFile(hook, HOOK);
  const r = spawnSync(process.execPath, ['--import', hook, CLI, ...args], { cwd: dir, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const loaded = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('LOADED '))
    .map((l) => l.slice('LOADED '.length));
  // The hook saw the CLI itself: an empty list would prove nothing.
  expect(loaded.some((u) => u.endsWith('/dist/src/cli/main.js'))).toBe(true);
  return loaded;
}

const rekeyModules = (loaded: string[]) =>
  loaded.filter((u) => u.includes('/dist/src/')).map((u) => u.slice(u.indexOf('/dist/src/') + 10));

describe('start-up: a command loads what it needs', { timeout: 120_000 }, () => {
  it('rekey status loads no engine run loop, target, deployer, verifier, notification, store or driver', async () => {
    const loaded = await loadedBy(['status'], 20);
    const ours = rekeyModules(loaded);
    expect(ours).toContain('cli/status.js');
    expect(
      ours.filter((m) => /^(engine\/run|targets\/index|deploy|verify|notify|stores|sessions)\b/.test(m)),
    ).toEqual([]);
    expect(loaded.filter((u) => DRIVERS.test(u))).toEqual([]);
  });

  it('rekey plan of file-held secrets loads no service driver', async () => {
    const loaded = await loadedBy(['plan'], 2, true);
    expect(rekeyModules(loaded)).toContain('targets/file/kind.js');
    expect(loaded.filter((u) => DRIVERS.test(u) && !/\/jose\//.test(u))).toEqual([]);
  });
});
