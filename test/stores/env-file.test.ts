/**
 * The env file behind the Store port (src/stores/env-file/): what the engine relies on when it holds
 * no new text in memory — commit recomputes it (in any process) from the file, the changes and the
 * journaled annotation time, and writes only what the journal's hash says; and the record it journals.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { StoreChange } from '../../src/engine/ports.js';
import { isRekeyError } from '../../src/lib/errors.js';
import { sha256 } from '../../src/lib/hash.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { createEnvFileStore, envFileRecord } from '../../src/stores/env-file/index.js';

// No git here: the check is covered by test/envfile/git.test.ts.
vi.mock('../../src/envfile/git.js', () => ({ checkGit: async () => {} }));

const TEXT = '# app\nAPP_NAME=demo\nJWT_SECRET=old-jwt-c2VjcmV0\n';
const CHANGES: StoreChange[] = [{ key: 'JWT_SECRET', value: 'new-jwt-bmV3c2VjcmV0', after: 'JWT_SECRET' }];
const AT = new Date('2026-12-04T12:00:00.123Z');

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
});

async function envFile(): Promise<string> {
  const dir = await makeOwnedDir('rekey-store-env-', { base: process.env.REKEY_STACK_TMPDIR || undefined });
  dirs.push(dir);
  const file = path.join(dir, '.env.production');
  await fs.writeFile(file, TEXT, { mode: 0o600 });
  return file;
}

describe('the env file store', () => {
  it('prepare journals the real path, the backup and both hashes; a new store (another process) commits from them', async () => {
    const file = await envFile();
    const prepared = await createEnvFileStore(file).prepare(
      await createEnvFileStore(file).read(),
      CHANGES,
      AT,
    );
    const r = envFileRecord(prepared.record);
    expect(r).toMatchObject({
      type: 'env-file',
      envFile: await fs.realpath(file),
      annotation: AT.toISOString(),
    });
    expect(prepared.backupFile).toBe(r.backupPath);
    expect(await fs.readFile(r.backupPath, 'utf8')).toBe(TEXT);
    expect(r.envBeforeSha256).toBe(sha256(TEXT));

    const fresh = createEnvFileStore(file);
    expect(await fresh.position(prepared.record, {}, {})).toBe('old');
    expect((await fresh.commit(prepared.record, CHANGES)).summary).toBe('.env.production replaced');
    const now = await fs.readFile(file, 'utf8');
    expect(sha256(now)).toBe(r.envAfterSha256);
    expect(now).toContain('JWT_SECRET=new-jwt-bmV3c2VjcmV0');
    expect(await fresh.position(prepared.record, {}, {})).toBe('new');
    expect((await fresh.commit(prepared.record, CHANGES)).summary).toBe('already committed');
  });

  it('commit writes nothing when the changes do not lead to the text the journal hashed', async () => {
    const file = await envFile();
    const store = createEnvFileStore(file);
    const prepared = await store.prepare(await store.read(), CHANGES, AT);
    const other = [{ ...CHANGES[0]!, value: 'not-what-prepare-saw' }];
    const err = await store.commit(prepared.record, other).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_INTERNAL'), String(err)).toBe(true);
    expect(String(err)).not.toContain('not-what-prepare-saw');
    expect(await fs.readFile(file, 'utf8')).toBe(TEXT);
  });

  it('commit refuses an env file edited since prepare (compare-and-set on its hash); restore refuses it too', async () => {
    const file = await envFile();
    const store = createEnvFileStore(file);
    const prepared = await store.prepare(await store.read(), CHANGES, AT);
    await fs.appendFile(file, 'EDITED=1\n');
    const err = await store.commit(prepared.record, CHANGES).catch((e: unknown) => e);
    expect(isRekeyError(err, 'ERR_ENVFILE_CHANGED'), String(err)).toBe(true);
    expect(await store.position(prepared.record, {}, {})).toBe('other');
    const undo = await store.restore(prepared.record, [], {}).catch((e: unknown) => e);
    expect(isRekeyError(undo, 'ERR_ENVFILE_CHANGED'), String(undo)).toBe(true);
    expect(await fs.readFile(file, 'utf8')).toBe(`${TEXT}EDITED=1\n`);
  });

  it("owner: undefined for its own record; names another env file's", async () => {
    const [a, b] = [await envFile(), await envFile()];
    const storeA = createEnvFileStore(a);
    const prepared = await storeA.prepare(await storeA.read(), CHANGES, AT);
    expect(await storeA.owner(prepared.record)).toBeUndefined();
    expect(await createEnvFileStore(b).owner(prepared.record)).toBe(
      `the env file ${await fs.realpath(a)}, not ${await fs.realpath(b)}`,
    );
    expect(await storeA.owner({ type: 'vault-kv' })).toMatch(/^a vault-kv store, not the env file /);
  });
});
