/**
 * Backups beyond the engine's plaintext `<envfile>.backup-<time>`: age-encrypted archives, secure
 * deletion of the local copy, pruning, and reading an archive back for `rekey rollback`.
 */
export { ARCHIVE_SUFFIX, type ArchiveResult, archiveBackup } from './archive.js';
export { decryptArchive, isAgeFile } from './restore.js';
export { secureDelete } from './secure-delete.js';
export { archiveDirOf, archivingEnabled } from './settings.js';
