/**
 * Best-effort secure deletion of a plaintext backup: overwrite every byte with random data, fsync,
 * then unlink and fsync the folder. On SSDs (wear levelling), copy-on-write file systems (btrfs, ZFS,
 * APFS), journaling with data=journal, snapshots and backups, the old blocks may survive the
 * overwrite: see docs/change-control.md. Encrypting at rest is the real protection; this removes the
 * easy copy.
 */
import { randomFillSync } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { fsyncDir, ioError } from '../lib/fsx.js';

const CHUNK = 64 * 1024;

/**
 * Overwrites a regular file with random bytes of the same length, fsyncs it, removes it.
 *
 * @example
 * await secureDelete('/srv/app/.env.production.backup-20261125T100000Z');
 */
export async function secureDelete(file: string): Promise<void> {
  const st = await fs.lstat(file).catch((e: NodeJS.ErrnoException) => {
    throw ioError('stat', file, e);
  });
  if (!st.isFile()) throw new RekeyError('ERR_IO', `${file} is not a regular file; not deleted`);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, constants.O_WRONLY | constants.O_NOFOLLOW);
    const buf = Buffer.alloc(Math.min(CHUNK, Math.max(st.size, 1)));
    for (let pos = 0; pos < st.size; pos += buf.length) {
      const n = Math.min(buf.length, st.size - pos);
      randomFillSync(buf, 0, n);
      await handle.write(buf, 0, n, pos);
    }
    await handle.sync();
  } catch (e) {
    throw ioError('overwrite', file, e as NodeJS.ErrnoException);
  } finally {
    await handle?.close().catch(() => {});
  }
  await fs.rm(file).catch((e: NodeJS.ErrnoException) => {
    throw ioError('remove', file, e);
  });
  await fsyncDir(path.dirname(file)).catch(() => {});
}
