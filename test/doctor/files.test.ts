/** RK3xx: file modes, the folder, backups git would commit, plaintext backups the policy should have removed. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { filesCheck } from '../../src/doctor/checks/files.js';
import { CONFIG, doctorStack } from './helpers.js';

const rules = async (s: Awaited<ReturnType<typeof doctorStack>>) =>
  (await s.check(filesCheck)).map((f) => f.rule);

describe('doctor: file safety', () => {
  it('finds nothing for a 0600 env file in a private folder without backups', async () => {
    expect(await rules(await doctorStack())).toEqual([]);
  });

  it('RK301 mode wider than 0600, RK303 a folder others can write', async () => {
    const s = await doctorStack();
    await fs.chmod(s.envFile, 0o640);
    expect(await rules(s)).toEqual(['RK301']);
    await fs.chmod(s.envFile, 0o600);
    await fs.chmod(s.dir, 0o777);
    try {
      expect(await rules(s)).toEqual(['RK303']);
    } finally {
      await fs.chmod(s.dir, 0o700);
    }
  });

  it('RK304 backups git would not ignore (the env file itself ignored)', async () => {
    const s = await doctorStack();
    s.git('init', '-q');
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production\n');
    await fs.writeFile(`${s.envFile}.backup-20261201T000000Z`, 'X=1\n', { mode: 0o600 });
    expect(await rules(s)).toEqual(['RK304']);
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production*\n');
    expect(await rules(s)).toEqual([]);
  });

  it('RK305 plaintext backups left when backups.deleteLocal asks for archives only', async () => {
    const config = `${CONFIG}backups: { encryptTo: [age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq], deleteLocal: true }\n`;
    const s = await doctorStack(undefined, config);
    expect(await rules(s)).toEqual([]);
    await fs.writeFile(`${s.envFile}.backup-20261201T000000Z`, 'X=1\n', { mode: 0o600 });
    expect(await rules(s)).toEqual(['RK305']);
  });
});
