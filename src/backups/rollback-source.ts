/**
 * What `rekey rollback` returns to: `--backup` (a plain backup, or an age archive decrypted in memory
 * with `--identity`, never to disk); else the env file's newest backup; else, for a managed store
 * that keeps no backup file, the values the last finished rotation replaced, from the store's own
 * history (src/engine/previous.ts). Reads only.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Store } from '../engine/ports.js';
import { previousOfLastRotation } from '../engine/previous.js';
import { envValues, listBackups, parseEnv } from '../envfile/index.js';
import { RekeyError } from '../lib/errors.js';
import { decryptArchive, isAgeFile } from './restore.js';

/** What `rekey rollback` returns to, and how messages name it. */
export interface RollbackSource {
  /** The values to return to: a backup's, or those the rotation replaced (its keys only). */
  readonly values: ReadonlyMap<string, string>;
  /** `the values of .env.production.backup-…`, `the values before rotation <id> (Vault version 3 of …)`. */
  readonly what: string;
  /** What holds them, for "has no value for": `the backup`, `Vault version 3 of …`. */
  readonly holder: string;
  /** The backup file, when the values come from one. */
  readonly backup?: string;
  /** The rotation undone, when the values come from the store's history. */
  readonly rotation?: string;
}

/**
 * The env file: `--backup`, else its newest backup. A managed store (no backup file): `--backup`,
 * else the values the last finished rotation replaced, from the store's own history.
 */
export async function rollbackSource(
  envFile: string | undefined,
  store: Store,
  stateDir: string,
  opts: { backup?: string; identity?: string },
): Promise<RollbackSource> {
  if (envFile === undefined && !opts.backup) {
    const prev = await previousOfLastRotation(store, stateDir);
    return {
      values: prev.values,
      what: `the values before rotation ${prev.rotation} (${prev.kept})`,
      holder: prev.kept,
      rotation: prev.rotation,
    };
  }
  const backup = opts.backup ? path.resolve(opts.backup) : (await listBackups(envFile as string))[0];
  if (backup === undefined)
    throw new RekeyError('ERR_BACKUP_NOT_FOUND', `no backup of ${path.basename(envFile as string)} found`, {
      hint: 'Pass --backup PATH, or --backup ARCHIVE.age --identity FILE for an encrypted archive.',
    });
  const text = await readBackup(backup, opts.identity);
  return {
    values: envValues(parseEnv(text, path.basename(backup))),
    what: `the values of ${path.basename(backup)}`,
    holder: 'the backup',
    backup,
  };
}

/** The backup's text: a plain backup as is, an age archive decrypted in memory with --identity. */
async function readBackup(backup: string, identity: string | undefined): Promise<string> {
  if (await isAgeFile(backup)) {
    if (identity === undefined) {
      throw new RekeyError('ERR_USAGE', `${path.basename(backup)} is an encrypted archive`, {
        hint: 'Pass --identity FILE, a file holding the age identity (AGE-SECRET-KEY-1...) it was encrypted to.',
      });
    }
    return decryptArchive(backup, identity);
  }
  if (identity !== undefined) {
    throw new RekeyError('ERR_USAGE', `--identity given, but ${path.basename(backup)} is not an age archive`);
  }
  try {
    return await fs.readFile(backup, 'utf8');
  } catch {
    throw new RekeyError('ERR_BACKUP_NOT_FOUND', `cannot read the backup ${backup}`);
  }
}
