/**
 * Backups of the env file: `<real path>.backup-<YYYYMMDDTHHMMSSZ>`, a byte-identical copy, 0600,
 * created exclusively (never over an existing file) and fsynced with its directory before it returns.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { RekeyError } from '../lib/errors.js';
import { ioError, resolveSymlink, writeFileExclusive } from '../lib/fsx.js';
import { compactUtc } from '../lib/time.js';

/** Same-second backups get `-2`, `-3`, ... up to this. */
const MAX_SUFFIX = 1000;

/**
 * The backup timestamp: UTC, `YYYYMMDDTHHMMSSZ`.
 *
 * @example
 * formatBackupTime(new Date('2026-11-25T10:00:00.999Z')); // '20261125T100000Z'
 */
export function formatBackupTime(d: Date): string {
  return compactUtc(d);
}

export interface BackupOptions {
  /** The text the caller read: when the file no longer holds exactly it, throw ERR_ENVFILE_CHANGED. */
  expected?: string;
}

/**
 * Copies the env file (its real path, symlinks followed) to `<realpath>.backup-<YYYYMMDDTHHMMSSZ>`,
 * mode 0600, fsynced with its directory, and returns the backup's path. Never overwrites: on a
 * collision it adds `-2`, `-3`, ...
 *
 * @example
 * const backup = await writeBackup('.env.production', new Date()); // '/srv/app/.env.production.backup-20261125T100000Z'
 */
export async function writeBackup(file: string, now: Date, options: BackupOptions = {}): Promise<string> {
  const realPath = await resolveSymlink(file);
  const bytes = await fs.readFile(realPath).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT')
      throw new RekeyError('ERR_ENVFILE_NOT_FOUND', `env file not found: ${file}`, { cause: e });
    throw ioError('read', realPath, e);
  });
  if (options.expected !== undefined && !bytes.equals(Buffer.from(options.expected, 'utf8'))) {
    throw new RekeyError('ERR_ENVFILE_CHANGED', `${file} changed since it was read; no backup was written`, {
      hint: 'Another process edited the env file. Run the command again.',
    });
  }
  const base = `${realPath}.backup-${formatBackupTime(now)}`;
  for (let n = 1; n <= MAX_SUFFIX; n++) {
    const name = n === 1 ? base : `${base}-${n}`;
    if (await writeFileExclusive(name, bytes, 0o600)) {
      const back = await fs.readFile(name).catch((e: NodeJS.ErrnoException) => {
        throw ioError('read', name, e);
      });
      if (!back.equals(bytes)) throw new RekeyError('ERR_IO', `backup ${name} does not match ${realPath}`);
      return name;
    }
  }
  throw new RekeyError(
    'ERR_IO',
    `cannot create a backup of ${realPath}: ${MAX_SUFFIX} backups exist for that second`,
  );
}

const BACKUP_SUFFIX = /^(\d{8}T\d{6}Z)(?:-([2-9]|[1-9]\d+))?$/;

/**
 * The env file's backups (next to its real path), newest first.
 *
 * @example
 * await listBackups('.env.production'); // ['/srv/app/.env.production.backup-20261125T100000Z', ...]
 */
export async function listBackups(file: string): Promise<string[]> {
  const realPath = await resolveSymlink(file);
  const dir = path.dirname(realPath);
  const prefix = `${path.basename(realPath)}.backup-`;
  const names = await fs.readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw ioError('read', dir, e);
  });
  const found: { name: string; time: string; n: number }[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const m = BACKUP_SUFFIX.exec(name.slice(prefix.length));
    if (m === null) continue;
    found.push({ name, time: m[1] ?? '', n: Number(m[2] ?? '1') });
  }
  found.sort((a, b) => (a.time === b.time ? b.n - a.n : a.time < b.time ? 1 : -1));
  return found.map((f) => path.join(dir, f.name));
}
