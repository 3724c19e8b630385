import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENV_TEXT, useStacks } from '../engine/stack.js';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/rotate_secrets.sh');
const stack = useStacks();

describe('scripts/rotate_secrets.sh (the playbook command)', () => {
  it('rotates the env file with the rekey.yaml beside it', async () => {
    const s = await stack();
    const r = spawnSync('bash', [SCRIPT, '.env.production', '--yes'], {
      cwd: s.dir,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(await fs.readFile(s.envFile, 'utf8')).not.toBe(ENV_TEXT);
    await s.assertConsistent();
  });

  it('refuses when the config manages another env file, changing nothing', async () => {
    const s = await stack();
    await fs.writeFile(path.join(s.dir, 'other.env'), 'X=1\n');
    const r = spawnSync('bash', [SCRIPT, 'other.env', '--yes'], { cwd: s.dir, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/manages .*\.env\.production, not other\.env/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(ENV_TEXT);
  });

  it('without arguments prints its usage and exits 2', () => {
    const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/usage/);
  });
});
