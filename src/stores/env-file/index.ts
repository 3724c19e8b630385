/**
 * The env file as a {@link Store}: the first place rekey writes secrets to, moved behind the port
 * without a change in behaviour. Preflight checks it is not tracked by git and sits in a folder only
 * its owner can write; prepare writes a backup (exactly the bytes the new text derives from) and
 * journals its real path, the backup and both hashes; commit replaces the file atomically only when
 * it still holds the backup's bytes, recomputing the new text from the current file, the changes and
 * the journaled annotation time (the edit is deterministic: the journal holds its hash); restore puts
 * the backup's bytes back.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { PreparedCommit, Store, StorePosition, StoreRecord, StoreSnapshot } from '../../engine/ports.js';
import {
  assertLeadsTo,
  assertUnique,
  checkEnvFileFolder,
  checkGit,
  DEFAULT_ENV_FILE_MODE,
  type EnvDocument,
  editEnv,
  envValues,
  readEnvFile,
  writeBackup,
  writeEnvFile,
} from '../../envfile/index.js';
import { RekeyError } from '../../lib/errors.js';
import { removeStaleTemps, resolveSymlink } from '../../lib/fsx.js';
import { sha256 } from '../../lib/hash.js';

export interface EnvFileStoreOptions {
  /** The mode the env file is written with (the configured `envFileMode`); 0600 when absent. */
  readonly mode?: number;
  /** `--allow-unignored`: an env file git does not ignore is a warning, not a refusal. */
  readonly allowUnignored?: boolean;
}

/** What the env file store journals (the journal of version 1 held these fields at its top level). */
export interface EnvFileRecord {
  readonly type: 'env-file';
  /** The file the env file path led to at preflight (symlinks followed): the only file rekey writes. */
  readonly envFile: string;
  readonly backupPath: string;
  readonly envBeforeSha256: string;
  readonly envAfterSha256: string;
  /** The new content is derived from the backup, the changes and this annotation time (ISO). */
  readonly annotation: string;
}

/** The env file as read at preflight. */
export interface EnvFileSnapshot extends StoreSnapshot {
  readonly text: string;
  readonly realPath: string;
  readonly doc: EnvDocument;
}

/**
 * @example
 * const store = createEnvFileStore('/srv/app/.env.production', { mode: 0o600 });
 * const snap = await store.read();
 * snap.values.get('JWT_SECRET');
 */
export function createEnvFileStore(envFile: string, options: EnvFileStoreOptions = {}): Store {
  const mode = options.mode ?? DEFAULT_ENV_FILE_MODE;
  const base = () => path.basename(envFile);

  const snapshotOf = (s: StoreSnapshot): EnvFileSnapshot => {
    const e = s as Partial<EnvFileSnapshot>;
    if (typeof e.text !== 'string' || typeof e.realPath !== 'string' || e.doc === undefined)
      throw new RekeyError('ERR_INTERNAL', 'the env file store was given a snapshot it did not read');
    return e as EnvFileSnapshot;
  };

  return {
    type: 'env-file',
    name: envFile,
    label: 'env file',
    titles: { commit: 'write the env file atomically', restore: 'restore the env file from the backup' },

    async check() {
      await checkGit(envFile, { allowUnignored: options.allowUnignored ?? false });
      await checkEnvFileFolder(envFile);
    },

    async read(): Promise<EnvFileSnapshot> {
      const f = await readEnvFile(envFile);
      return {
        values: envValues(f.doc),
        version: `${f.realPath}\0${sha256(f.text)}`,
        text: f.text,
        realPath: f.realPath,
        doc: f.doc,
      };
    },

    checkKeys(snapshot, keys) {
      assertUnique(snapshotOf(snapshot).doc, keys, base());
    },

    async cleanUp() {
      const real = await resolveSymlink(envFile);
      return removeStaleTemps(path.dirname(real), path.basename(real));
    },

    async prepare(snapshot, changes, at): Promise<PreparedCommit> {
      const pre = snapshotOf(snapshot);
      const now = await readEnvFile(envFile);
      if (now.text !== pre.text || now.realPath !== pre.realPath) {
        throw new RekeyError(
          'ERR_ENVFILE_CHANGED',
          'the env file changed during preflight; nothing was changed',
          { hint: 'Run the command again.' },
        );
      }
      const after = editEnv(now.doc, [...changes], { annotation: at });
      // The backup must hold exactly the bytes the new text was derived from.
      const backupPath = await writeBackup(pre.realPath, at, { expected: now.text });
      const record: EnvFileRecord = {
        type: 'env-file',
        envFile: now.realPath,
        backupPath,
        envBeforeSha256: sha256(now.text),
        envAfterSha256: sha256(after),
        annotation: at.toISOString(),
      };
      return {
        record: { ...record },
        backupFile: backupPath,
        summary: `backup ${path.basename(backupPath)}`,
      };
    },

    async commit(record, changes, guard) {
      const r = envFileRecord(record);
      // The env file was resolved once, at preflight (the record holds that real path): a symlink
      // swapped since must not send the new values to another file. Checked before anything is read.
      await assertLeadsTo(envFile, r.envFile);
      const now = await readEnvFile(r.envFile);
      const nowSha = sha256(now.text);
      if (nowSha === r.envAfterSha256) return { summary: 'already committed' };
      if (nowSha !== r.envBeforeSha256) {
        throw new RekeyError(
          'ERR_ENVFILE_CHANGED',
          'the env file was edited during the rotation; it was not replaced',
          { hint: 'Rotate again once nobody else edits the env file.' },
        );
      }
      // The same bytes as at prepare (the hash says so), the same changes and annotation time:
      // the same new text, which the journal's hash confirms before anything is written.
      const text = editEnv(now.doc, [...changes], { annotation: new Date(r.annotation) });
      if (sha256(text) !== r.envAfterSha256) {
        throw new RekeyError(
          'ERR_INTERNAL',
          "the new env file text does not match the journal's hash; the env file was not replaced",
        );
      }
      const write = () => writeEnvFile(envFile, text, { mode, realPath: r.envFile });
      await (guard ? guard('writing the env file', write) : write());
      return { summary: `${base()} replaced` };
    },

    async position(record): Promise<StorePosition> {
      const r = envFileRecord(record);
      const now = sha256((await readEnvFile(envFile)).text);
      if (now === r.envAfterSha256) return 'new';
      if (now === r.envBeforeSha256) return 'old';
      return 'other';
    },

    async restore(record, _old, _next, guard) {
      const r = envFileRecord(record);
      // The file the rotation wrote (resolved at preflight), whatever a symlink leads to now. When
      // that file is gone (moved or renamed since), the configured env file: recover accepts it only
      // when its bytes are the journal's old or new ones (`owner`), and the checks below hold it to that.
      const gone = await fs.stat(r.envFile).then(
        () => false,
        (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
      );
      const file = gone ? envFile : r.envFile;
      const now = sha256((await readEnvFile(file)).text);
      if (now === r.envBeforeSha256) return { summary: 'already the old values' };
      if (now !== r.envAfterSha256) {
        throw new RekeyError(
          'ERR_ENVFILE_CHANGED',
          'the env file matches neither the backup nor the new values: someone edited it',
          {
            hint: `Compare it with ${r.backupPath}; copy the backup over it if the edit can go, then run \`rekey recover\`.`,
          },
        );
      }
      let backup: string;
      try {
        backup = await fs.readFile(r.backupPath, 'utf8');
      } catch {
        throw new RekeyError('ERR_BACKUP_NOT_FOUND', `the backup ${r.backupPath} is gone`);
      }
      if (sha256(backup) !== r.envBeforeSha256) {
        throw new RekeyError(
          'ERR_NEEDS_ATTENTION',
          `the backup ${path.basename(r.backupPath)} does not hold what the env file held`,
        );
      }
      const write = () => writeEnvFile(file, backup, { mode });
      await (guard ? guard('restoring the env file', write) : write());
      return { summary: 'old values back' };
    },

    kept(record) {
      return `backup at ${envFileRecord(record).backupPath}`;
    },

    conflict(record) {
      const r = envFileRecord(record);
      return new RekeyError(
        'ERR_ENVFILE_CHANGED',
        "the env file matches neither the backup nor the rotation's new values: it was edited while the rotation was pending",
        {
          hint: `Copy the backup (${r.backupPath}) over the env file to undo the rotation, then run \`rekey recover\` again.`,
        },
      );
    },

    /**
     * A record names the env file it rotated (real path). One naming another env file belongs to
     * another stack: recovering it here would restore that stack's backup over this env file. (The
     * same file moved since: its bytes are the record's old or new ones, and it is this stack's.)
     */
    async owner(record) {
      const env = await readEnvFile(envFile);
      if (record.type !== 'env-file')
        return `a ${String(record.type)} store, not the env file ${env.realPath}`;
      if (typeof record.envFile !== 'string') return undefined;
      const r = record as unknown as EnvFileRecord;
      if (r.envFile === env.realPath) return undefined;
      const now = sha256(env.text);
      if (!existsSync(r.envFile) && (now === r.envBeforeSha256 || now === r.envAfterSha256)) return undefined;
      return `the env file ${r.envFile}, not ${env.realPath}`;
    },
  };
}

/** The record as the env file store wrote it; ERR_JOURNAL_CORRUPT when a field is missing. */
export function envFileRecord(record: StoreRecord): EnvFileRecord {
  const fields = ['envFile', 'backupPath', 'envBeforeSha256', 'envAfterSha256', 'annotation'] as const;
  const bad = fields.find((f) => typeof record[f] !== 'string');
  if (record.type !== 'env-file' || bad !== undefined) {
    throw new RekeyError(
      'ERR_JOURNAL_CORRUPT',
      `the journal's store record is not an env file's (${record.type !== 'env-file' ? `type ${String(record.type)}` : `no ${bad}`})`,
    );
  }
  return record as unknown as EnvFileRecord;
}
