/**
 * scripts/deploy.sh signals only the app runner it started: a stale pid file whose pid now belongs to
 * another program, or to a zombie (a killed runner nobody reaps), is "not running" — the other
 * program is never signalled, and a dead runner is not reported as running.
 */
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { makeZombie, procState } from '../engine/zombie.js';
import { tempDir } from '../helpers/tmp.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DEPLOY = path.join(REPO, 'scripts/deploy.sh');

async function stackWithPid(pid: number): Promise<string> {
  const dir = await tempDir('rekey-deploy-pids-');
  await fs.mkdir(path.join(dir, '.run'));
  await fs.writeFile(path.join(dir, '.run', 'app.pid'), `${pid}\n`);
  await fs.writeFile(path.join(dir, '.env.production'), 'APP_PORT=1\n', { mode: 0o600 });
  return dir;
}

const stop = (dir: string) =>
  spawnSync('bash', [DEPLOY, 'stop'], { cwd: dir, encoding: 'utf8', timeout: 30_000 });

describe('scripts/deploy.sh and stale pid files', () => {
  it('never signals another program that got the pid of a runner that died', async () => {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const dir = await stackWithPid(other.pid!);
      const r = stop(dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('app: not running');
      expect(procState(other.pid!)).toBe('S'); // still sleeping, never sent SIGTERM
    } finally {
      other.kill('SIGKILL');
    }
  });

  it('a zombie runner (pid 1 does not reap) is not running', async () => {
    const z = await makeZombie();
    try {
      const dir = await stackWithPid(z.pid);
      const r = stop(dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain('app: not running');
    } finally {
      await z.release();
    }
  }, 40_000);
});
