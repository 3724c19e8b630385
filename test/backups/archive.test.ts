/**
 * Encrypted backup archives with age: after a successful rotation the backup is encrypted to the
 * configured recipients, the plaintext copy overwritten and removed, old archives pruned; an archive
 * decrypts with its identity and not without, and `rekey rollback --backup ARCHIVE --identity FILE`
 * returns the stack to it.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveBackup, decryptArchive, secureDelete } from '../../src/backups/index.js';
import { loadConfig } from '../../src/config/load.js';
import { ENV_TEXT, INITIAL, makeStack, type Stack } from '../engine/stack.js';
import { tempDir } from '../helpers/tmp.js';

let stacks: Stack[] = [];
/** Identity files, kept outside the stacks' folders (a rotation must not find them), removed after. */
let identities: string[] = [];
afterEach(async () => {
  await Promise.all(stacks.map((s) => s.cleanup()));
  await Promise.all(identities.map((f) => fs.rm(f, { force: true })));
  stacks = [];
  identities = [];
});

interface ArchiveStack extends Stack {
  identity: string;
  archiveDir: string;
}

async function stack(backups: { deleteLocal?: boolean; keep?: number } = {}): Promise<ArchiveStack> {
  const secret = await generateIdentity();
  const recipient = await identityToRecipient(secret);
  const other = await identityToRecipient(await generateIdentity());
  const s = await makeStack({
    extraConfig: `backups:
  encryptTo: [${recipient}, ${other}]
  archiveDir: vault
  deleteLocal: ${backups.deleteLocal ?? true}
${backups.keep ? `  keep: ${backups.keep}\n` : ''}`,
  });
  stacks.push(s);
  const identity = path.join(s.dir, '..', `${path.basename(s.dir)}-age.key`);
  identities.push(identity);
  await fs.writeFile(identity, `# created: test\n# public key: ${recipient}\n${secret}\n`, { mode: 0o600 });
  return { ...s, identity, archiveDir: path.join(s.dir, 'vault') };
}

/** Every file under a folder whose bytes contain one of the values. */
async function filesHolding(dir: string, values: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await filesHolding(p, values)));
    else if (e.isFile()) {
      const text = (await fs.readFile(p)).toString('latin1');
      if (values.some((v) => text.includes(v))) out.push(p);
    }
  }
  return out;
}

describe('encrypted backup archive', () => {
  it('archives after a rotation, deletes the plaintext, and rolls back from the archive with the identity', async () => {
    const s = await stack();
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const backupName = path.basename(JSON.parse(r.stdout).backupPath as string);

    // The plaintext backup is gone; the archive is there, private, and not plaintext.
    expect(existsSync(path.join(s.dir, backupName))).toBe(false);
    const archive = path.join(s.archiveDir, `${backupName}.age`);
    expect((await fs.stat(archive)).mode & 0o777).toBe(0o600);
    // (The env file keeps the old JWT secret as JWT_SECRET_PREVIOUS, on purpose.)
    const stale = await filesHolding(s.dir, Object.values(INITIAL));
    expect(stale.filter((f) => f !== s.envFile && !/service-\w+\.json$/.test(f))).toEqual([]);

    // It decrypts with the identity, to the old env file, and not with another one.
    expect(await decryptArchive(archive, s.identity)).toBe(ENV_TEXT);
    const stranger = path.join(s.dir, 'stranger.key');
    await fs.writeFile(stranger, `${await generateIdentity()}\n`, { mode: 0o600 });
    await expect(decryptArchive(archive, stranger)).rejects.toMatchObject({ code: 'ERR_ARCHIVE_DECRYPT' });

    const audit = (await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8')).trim().split('\n');
    expect(JSON.parse(audit[0]!).backup).toEqual({
      file: backupName,
      archive: `${backupName}.age`,
      localDeleted: true,
    });

    // Rollback from the archive: refused without the identity or with the wrong one…
    const rotated = await fs.readFile(s.envFile);
    const without = await s.run(['rollback', '--yes', '--backup', archive]);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('is an encrypted archive');
    const wrong = await s.run(['rollback', '--yes', '--backup', archive, '--identity', stranger]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('ERR_ARCHIVE_DECRYPT');
    expect((await fs.readFile(s.envFile)).equals(rotated)).toBe(true);

    // …and done with it, live services included, leaving no plaintext copy of either state behind.
    const back = await s.run(['rollback', '--yes', '--json', '--backup', archive, '--identity', s.identity]);
    expect(back.code, back.stderr).toBe(0);
    const env = await s.env();
    for (const [k, v] of Object.entries(INITIAL)) expect(env.get(k)).toBe(v);
    await s.assertConsistent();
    const newValues = [
      ...(await fs.readFile(s.envFile, 'utf8')).matchAll(/_(?:SECRET|KEY|PASSWORD)=(\S{20,})/g),
    ];
    expect(newValues.length).toBeGreaterThan(0);
    // Only the env file holds values (and the stand-in services, which hold their passwords).
    const holders = await filesHolding(s.dir, [INITIAL.JWT_SECRET, ...newValues.map((m) => m[1]!)]);
    expect(holders.filter((f) => !/service-\w+\.json$/.test(f))).toEqual([s.envFile]);
    expect((await fs.readdir(s.archiveDir)).filter((f) => f.endsWith('.age'))).toHaveLength(2);

    const records = (await fs.readFile(path.join(s.dir, 'rekey-audit.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.at(-1)).toMatchObject({
      kind: 'rollback',
      outcome: 'rotated',
      rollbackFrom: `${backupName}.age`,
    });
  });

  it('keeps only the newest N archives', async () => {
    const s = await stack({ deleteLocal: false, keep: 2 });
    const loaded = await loadConfig(path.join(s.dir, 'rekey.yaml'));
    const times = ['20260101T000000Z', '20260301T000000Z', '20260201T000000Z', '20260301T000000Z-2'];
    for (const t of times) {
      const backup = path.join(s.dir, `.env.production.backup-${t}`);
      await fs.writeFile(backup, ENV_TEXT, { mode: 0o600 });
      const r = await archiveBackup(loaded, backup);
      expect(r.localDeleted).toBe(false);
      expect(existsSync(backup)).toBe(true);
    }
    expect((await fs.readdir(s.archiveDir)).sort()).toEqual([
      '.env.production.backup-20260301T000000Z-2.age',
      '.env.production.backup-20260301T000000Z.age',
    ]);
  });
});

describe('secure delete', () => {
  it('overwrites the bytes in place before removing the file', async () => {
    const dir = await tempDir();
    const file = path.join(dir, '.env.production.backup-20260101T000000Z');
    const content = Buffer.from(ENV_TEXT.repeat(50));
    await fs.writeFile(file, content, { mode: 0o600 });
    // A second name for the same inode lets the test see what secureDelete left in the blocks.
    const witness = path.join(dir, 'witness');
    await fs.link(file, witness);
    await secureDelete(file);
    expect(existsSync(file)).toBe(false);
    const left = await fs.readFile(witness);
    expect(left.length).toBe(content.length);
    expect(left.toString('latin1')).not.toContain(INITIAL.JWT_SECRET);
    expect(left.equals(content)).toBe(false);
    await expect(secureDelete(dir)).rejects.toMatchObject({ code: 'ERR_IO' });
  });

  it('a damaged armored archive is a clear ERR_ARCHIVE_DECRYPT, not a crash', async () => {
    const dir = await tempDir();
    const archive = path.join(dir, 'x.age');
    await fs.writeFile(archive, '-----BEGIN AGE ENCRYPTED FILE-----\n!!not base64!!\n');
    const identity = path.join(dir, 'key.txt');
    await fs.writeFile(identity, `${await generateIdentity()}\n`, { mode: 0o600 });
    await expect(decryptArchive(archive, identity)).rejects.toMatchObject({ code: 'ERR_ARCHIVE_DECRYPT' });
  });
});
