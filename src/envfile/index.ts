/**
 * The env-file engine: format-preserving parse and edit (docker compose's reading of the file), the
 * `# LastSecretRotation:` annotation, atomic writes, backups and the git check. See README.md.
 */
export { ANNOTATION_PREFIX, readAnnotation } from './annotation.js';
export { readAnnotationOnly } from './annotation-read.js';
export type { BackupOptions } from './backup.js';
export { formatBackupTime, listBackups, writeBackup } from './backup.js';
export type { EditOptions, EnvChange } from './edit.js';
export { editEnv } from './edit.js';
export { encodeValue } from './encode.js';
export type { LoadedEnvFile, WriteEnvFileOptions } from './file.js';
export {
  assertLeadsTo,
  checkEnvFileFolder,
  DEFAULT_ENV_FILE_MODE,
  judgeEnvFileMode,
  readEnvFile,
  writeEnvFile,
} from './file.js';
export { checkGit } from './git.js';
export type { EnvDocument, EnvEntry } from './parse.js';
export { assertUnique, envValues, isValidKey, parseEnv } from './parse.js';
export { removeKeys } from './remove.js';
