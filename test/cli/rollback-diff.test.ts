/**
 * `rekey rollback`'s backup diff counts every key a target writes (`Target.keys`), the role name of
 * alternating PostgreSQL roles included: a backup that differs from the env file only in
 * POSTGRES_USER is a change to roll back, not "nothing to do" (it was, when the diff read only `key`
 * and `previousKey`). In-process; no service is contacted before the confirmation, which refuses
 * without a terminal and changes nothing.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { rollbackCommand } from '../../src/cli/rollback.js';
import { tempDir } from '../helpers/tmp.js';

const CONFIG = `envFile: .env.production
secrets:
  - key: POSTGRES_PASSWORD
    type: postgres
    user: app
    strategy: alternating
    roles: [app_blue, app_green]
    userKey: POSTGRES_USER
    admin: { user: rekey_admin, passwordKey: PG_ADMIN_PASSWORD }
`;
const env = (user: string) =>
  `POSTGRES_USER=${user}\nPOSTGRES_PASSWORD=pw-Zm9vYmFyYmF6cXV4cXV1eA\nPG_ADMIN_PASSWORD=adm-cXV4cXV1eGZvb2Jhcg\n`;

describe('rollback diff', () => {
  it('sees a backup that differs only in the role name (userKey)', async () => {
    const dir = await tempDir();
    await fs.writeFile(path.join(dir, 'rekey.yaml'), CONFIG);
    const envFile = path.join(dir, '.env.production');
    await fs.writeFile(envFile, env('app_green'), { mode: 0o600 });
    const backup = path.join(dir, 'blue.backup');
    await fs.writeFile(backup, env('app_blue'), { mode: 0o600 });
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      // Without a terminal and --yes the command refuses at the confirmation: it saw a change.
      await expect(
        rollbackCommand({ config: path.join(dir, 'rekey.yaml') }, { backup, json: true }),
      ).rejects.toMatchObject({ code: 'ERR_CONFIRMATION_REQUIRED' });
    } finally {
      out.mockRestore();
    }
    expect(await fs.readFile(envFile, 'utf8')).toBe(env('app_green'));
  });
});
