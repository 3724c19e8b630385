import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { CLI } from '../engine/stack.js';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
  dirs = [];
});

const ENV = `JWT_SECRET=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
API_SECRET_KEY=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
POSTGRES_USER=bi_user
POSTGRES_PASSWORD=cccccccccccccccccccccccccccccccc
POSTGRES_DB=business_intelligence
REDIS_PASSWORD=dddddddddddddddddddddddddddddddd
GF_SECURITY_ADMIN_PASSWORD=eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee
`;

describe('rekey init', () => {
  it('writes a commented config that loads, detecting the common keys, and never overwrites it', async () => {
    const dir = await makeOwnedDir('rekey-init-');
    dirs.push(dir);
    await fs.writeFile(path.join(dir, '.env.production'), ENV, { mode: 0o600 });
    const run = () => spawnSync(process.execPath, [CLI, 'init', '--json'], { cwd: dir, encoding: 'utf8' });
    const r = run();
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).keys).toEqual([
      'JWT_SECRET',
      'API_SECRET_KEY',
      'POSTGRES_PASSWORD',
      'REDIS_PASSWORD',
      'GF_SECURITY_ADMIN_PASSWORD',
    ]);
    const text = await fs.readFile(path.join(dir, 'rekey.yaml'), 'utf8');
    expect(text).toMatch(/^# rekey\.yaml/);
    for (const line of ENV.split('\n').filter((l) => /SECRET|PASSWORD/.test(l)))
      expect(text).not.toContain(line.split('=')[1]);
    const loaded = await loadConfig(path.join(dir, 'rekey.yaml'));
    expect(loaded.config.secrets.find((s) => s.type === 'postgres')).toMatchObject({
      user: 'bi_user',
      database: 'business_intelligence',
    });
    const again = run();
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/ERR_CONFIG_EXISTS/);
    expect(await fs.readFile(path.join(dir, 'rekey.yaml'), 'utf8')).toBe(text);
  });
});
