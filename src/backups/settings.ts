/**
 * What rekey.yaml's `backups:` asks for, read without loading the age implementation (which only
 * archiving and restoring need): so a rotation without archives never pays for loading it.
 */
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';

/**
 * The archive folder: `backups.archiveDir` (relative to rekey.yaml), default `<stateDir>/archive`.
 *
 * @example
 * archiveDirOf(loaded); // '/srv/app/.rekey/archive'
 */
export function archiveDirOf(loaded: LoadedConfig): string {
  const dir = loaded.config.backups?.archiveDir;
  return dir ? path.resolve(loaded.dir, dir) : path.join(loaded.stateDir, 'archive');
}

/** True when rekey.yaml asks for encrypted archives. */
export function archivingEnabled(loaded: LoadedConfig): boolean {
  return (loaded.config.backups?.encryptTo?.length ?? 0) > 0;
}
