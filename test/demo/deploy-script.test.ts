/**
 * scripts/deploy.sh on the demo stack: a deploy under light load drops no request to /api/health;
 * `status` reports what runs; `rollback` run by hand returns the live services to the backup's
 * values too (it is `rekey rollback`), so the playbook's command cannot lock the app out.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgLogin } from '../../demo/probes.js';
import { type DemoStack, setUpDemoStack } from '../../demo/stack-setup.js';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import { CLI } from '../engine/stack.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = path.join(REPO, 'scripts/deploy.sh');

describe('scripts/deploy.sh', () => {
  let stack: DemoStack;
  const sh = (...args: string[]) =>
    spawnSync('bash', [DEPLOY, ...args], {
      cwd: stack.dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
  beforeAll(async () => {
    stack = await setUpDemoStack({ repo: REPO, keep: false });
    const r = sh('deploy');
    expect(r.status, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => {
    sh('stop');
    await stack.stop();
  });

  it('redeploys under light load without a failed /api/health request', async () => {
    let ok = 0;
    const failures: string[] = [];
    let running = true;
    const load = (async () => {
      while (running) {
        const t = Date.now();
        try {
          const res = await fetch(`${stack.appUrl}/api/health`, { signal: AbortSignal.timeout(5000) });
          await res.body?.cancel();
          if (res.status === 200) ok++;
          else failures.push(String(res.status));
        } catch (e) {
          failures.push((e as Error).message);
        }
        await new Promise((r) => setTimeout(r, Math.max(0, 20 - (Date.now() - t)))); // ~50 requests/s
      }
    })();
    await new Promise((r) => setTimeout(r, 500));
    const before = JSON.parse(
      await fs.readFile(path.join(stack.dir, '.run', 'app-status.json'), 'utf8'),
    ).generation;
    const r = await new Promise<number | null>((resolve) => {
      const child = spawn('bash', [DEPLOY, 'deploy'], { cwd: stack.dir, stdio: 'ignore' });
      child.on('close', resolve);
    });
    await new Promise((r2) => setTimeout(r2, 500));
    running = false;
    await load;
    expect(r).toBe(0);
    const after = JSON.parse(
      await fs.readFile(path.join(stack.dir, '.run', 'app-status.json'), 'utf8'),
    ).generation;
    expect(after).toBe(before + 1);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(50);
  }, 120_000);

  it('status says what runs', () => {
    const r = sh('status');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/app: running, pid \d+, generation \d+/);
    expect(r.stdout).toMatch(/health: 200/);
  });

  it('rollback by hand returns the live services to the backup values too (rekey rollback)', async () => {
    const env = async () => envValues(parseEnv(await fs.readFile(stack.envFile, 'utf8')));
    const before = await env();
    const rot = spawnSync(process.execPath, [CLI, 'rotate', '--yes', '--only', 'POSTGRES_PASSWORD'], {
      cwd: stack.dir,
      encoding: 'utf8',
    });
    expect(rot.status, rot.stderr).toBe(0);
    const port = Number(before.get('POSTGRES_PORT'));
    expect(await pgLogin(port, 'bi_user', before.get('POSTGRES_PASSWORD')!)).toBe('28P01');
    const r = sh('rollback', '--yes');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/rekey rollback/);
    expect((await env()).get('POSTGRES_PASSWORD')).toBe(before.get('POSTGRES_PASSWORD'));
    expect(await pgLogin(port, 'bi_user', before.get('POSTGRES_PASSWORD')!)).toBe('accepted');
    const health = await fetch(`${stack.appUrl}/api/health`);
    expect(health.status).toBe(200);
  }, 120_000);
});
