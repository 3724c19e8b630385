/**
 * Reading an encrypted backup archive back (`rekey rollback --backup ARCHIVE --identity FILE`). The
 * plaintext is decrypted in memory and never written to disk: the rollback reads its values from it
 * directly, so there is no temporary copy to delete afterwards.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { armor, Decrypter } from 'age-encryption';
import { RekeyError } from '../lib/errors.js';
import { ioError } from '../lib/fsx.js';

const MAGIC = 'age-encryption.org/v1';
const ARMOR = '-----BEGIN AGE ENCRYPTED FILE-----';

/**
 * True when a file is an age file (binary or armored), judged by its first bytes.
 *
 * @example
 * await isAgeFile('.rekey/archive/.env.production.backup-20261125T100000Z.age'); // true
 */
export async function isAgeFile(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r').catch(() => undefined);
  if (handle === undefined) return false;
  try {
    const buf = Buffer.alloc(ARMOR.length);
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    const head = buf.subarray(0, bytesRead).toString('latin1');
    return head.startsWith(MAGIC) || head.startsWith(ARMOR);
  } finally {
    await handle.close();
  }
}

/**
 * Decrypts an archive with the age identities (`AGE-SECRET-KEY-1…` lines) of `identityFile`;
 * ERR_ARCHIVE_DECRYPT when none of them is a recipient.
 *
 * @example
 * const text = await decryptArchive(archive, '~/.config/rekey/age.key'); // the backup's env-file text
 */
export async function decryptArchive(archive: string, identityFile: string): Promise<string> {
  const identities = await readIdentities(identityFile);
  let sealed: Uint8Array = await fs.readFile(archive).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') throw new RekeyError('ERR_BACKUP_NOT_FOUND', `no archive at ${archive}`);
    throw ioError('read', archive, e);
  });
  const text = Buffer.from(sealed).subarray(0, ARMOR.length).toString('latin1');
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  try {
    // A damaged armored file fails here: the same clear error as any undecryptable archive.
    if (text.startsWith(ARMOR)) sealed = armor.decode(Buffer.from(sealed).toString('utf8'));
    return await d.decrypt(sealed, 'text');
  } catch (e) {
    const why = e instanceof Error ? e.message : 'decryption failed';
    throw new RekeyError(
      'ERR_ARCHIVE_DECRYPT',
      `cannot decrypt ${path.basename(archive)} with ${path.basename(identityFile)}: ${why.split('\n')[0]}`,
    );
  }
}

async function readIdentities(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new RekeyError(
      'ERR_ARCHIVE_DECRYPT',
      `cannot read the identity file ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('AGE-SECRET-KEY-'));
  if (ids.length === 0) {
    throw new RekeyError('ERR_ARCHIVE_DECRYPT', `${file} holds no age identity (a line AGE-SECRET-KEY-1…)`);
  }
  return ids;
}
