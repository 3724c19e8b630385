/**
 * Encrypted backup archives (`backups:` in rekey.yaml): after a successful rotation the env-file
 * backup is encrypted with age to `encryptTo`, written to `archiveDir` as `<backup name>.age` (0600),
 * read back and compared, then, with `deleteLocal`, the plaintext backup is overwritten and removed;
 * `keep` prunes the oldest archives of the env file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Encrypter } from 'age-encryption';
import type { LoadedConfig } from '../config/load.js';
import { RekeyError } from '../lib/errors.js';
import { ensurePrivateDir, ioError, removeDurably, writeFileExclusive } from '../lib/fsx.js';
import { safeMessage } from '../lib/redact.js';
import { secureDelete } from './secure-delete.js';
import { archiveDirOf } from './settings.js';

export const ARCHIVE_SUFFIX = '.age';

export interface ArchiveResult {
  readonly archive: string;
  readonly localDeleted: boolean;
  readonly pruned: readonly string[];
}

/**
 * Encrypts one backup to the configured recipients and applies `deleteLocal` and `keep`.
 *
 * @example
 * const r = await archiveBackup(loaded, result.backupPath);
 * r.archive; // '/srv/app/.rekey/archive/.env.production.backup-20261125T100000Z.age'
 */
export async function archiveBackup(loaded: LoadedConfig, backupPath: string): Promise<ArchiveResult> {
  const backups = loaded.config.backups;
  const recipients = backups?.encryptTo ?? [];
  if (recipients.length === 0) throw new RekeyError('ERR_CONFIG_INVALID', 'backups.encryptTo: no recipients');
  const encrypter = new Encrypter();
  for (const r of recipients) {
    try {
      encrypter.addRecipient(r.trim());
    } catch (e) {
      throw new RekeyError(
        'ERR_CONFIG_INVALID',
        `backups.encryptTo: not an age recipient: ${r} (${safeMessage(e)})`,
        {
          hint: 'Use age public keys (age1…), e.g. from `age-keygen -y key.txt`.',
        },
      );
    }
  }
  const plain = await fs.readFile(backupPath).catch((e: NodeJS.ErrnoException) => {
    throw ioError('read', backupPath, e);
  });
  const sealed = await encrypter.encrypt(plain);
  const dir = archiveDirOf(loaded);
  await ensurePrivateDir(dir);
  const archive = path.join(dir, `${path.basename(backupPath)}${ARCHIVE_SUFFIX}`);
  if (!(await writeFileExclusive(archive, sealed, 0o600))) {
    throw new RekeyError('ERR_IO', `${archive} already exists; the backup was not archived again`);
  }
  const back = await fs.readFile(archive);
  if (!back.equals(Buffer.from(sealed)))
    throw new RekeyError('ERR_IO', `${archive} does not read back as written`);
  let localDeleted = false;
  if (backups?.deleteLocal) {
    await secureDelete(backupPath);
    localDeleted = true;
  }
  const pruned = backups?.keep ? await prune(dir, path.basename(backupPath), backups.keep) : [];
  return { archive, localDeleted, pruned };
}

/** Removes all but the newest `keep` archives of the same env file (names sort by time). */
async function prune(dir: string, backupName: string, keep: number): Promise<string[]> {
  const prefix = backupName.replace(/\.backup-.*$/, '.backup-');
  const names = (await fs.readdir(dir))
    .filter((n) => n.startsWith(prefix) && n.endsWith(ARCHIVE_SUFFIX))
    .sort(byTime);
  const old = names.slice(0, Math.max(0, names.length - keep));
  for (const n of old) await removeDurably(path.join(dir, n));
  return old.map((n) => path.join(dir, n));
}

/** Oldest first: by timestamp, then by the `-2`, `-3` suffix of same-second backups. */
function byTime(a: string, b: string): number {
  const key = (n: string) => {
    const m = /\.backup-(\d{8}T\d{6}Z)(?:-(\d+))?\.age$/.exec(n);
    return m ? `${m[1]}-${(m[2] ?? '1').padStart(6, '0')}` : n;
  };
  return key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;
}
