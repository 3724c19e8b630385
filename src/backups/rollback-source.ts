/**
 * What `rekey rollback` returns to: `--backup` (a plain backup, or an age archive decrypted in memory
 * with `--identity`, never to disk); else the env file's newest backup; else, for a managed store
 * that keeps no backup file, the values the last finished rotation replaced, from the store's own
 * history (src/engine/previous.ts). Reads only.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { registerSecretValues } from '../config/load.js';
import type { SecretConfig } from '../config/schema.js';
import { changedByBackup } from '../engine/backup-diff.js';
import type { Store, Target } from '../engine/ports.js';
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

/** The part of the stack {@link rollbackPlan} reads. */
export interface RollbackStack {
  readonly loaded: {
    readonly envFile: string | undefined;
    readonly config: { readonly secrets: readonly SecretConfig[] };
  };
  readonly store: Store;
  readonly stateDir: string;
  readonly makeTargets: (env: ReadonlyMap<string, string>) => Target[] | Promise<Target[]>;
}

/** What a rollback would do: return `keys` to `values`, from `source`. */
export interface RollbackPlan {
  readonly source: RollbackSource;
  /** The values the rotation is given (from the store's history: merged over what the store holds now). */
  readonly values: ReadonlyMap<string, string>;
  /** The secrets that differ (each target any of whose keys holds another value): what is rotated back. */
  readonly keys: readonly string[];
  /**
   * Every key those secrets write (value, grace slot, role name) with the value it returns to: what
   * a rollback change request binds (src/governance/approvals/return-to.ts), so that an approval of
   * a return to one backup cannot be spent on another.
   */
  readonly written: ReadonlyMap<string, string>;
}

/**
 * Reads the source and compares it with what the stack holds now. Throws ERR_BACKUP_NOT_FOUND when
 * the source has no value for a secret it would change (nothing was changed).
 *
 * @example
 * const { keys, source } = await rollbackPlan(deps, { backup: '.env.production.backup-20261201T101010Z' });
 */
export async function rollbackPlan(
  stack: RollbackStack,
  opts: { backup?: string; identity?: string },
): Promise<RollbackPlan> {
  const source = await rollbackSource(stack.loaded.envFile, stack.store, stack.stateDir, opts);
  const current = (await stack.store.read()).values;
  // From the store's history: only the keys that rotation wrote; every other key stays as it is.
  const values = source.backup === undefined ? new Map([...current, ...source.values]) : source.values;
  // Masked from here on, before any target or message sees them.
  for (const s of stack.loaded.config.secrets) registerSecretValues(s, values);
  // Every key a target writes counts (Target.keys): a backup differing only in a role name is a change.
  const targets = await stack.makeTargets(current);
  const keys = changedByBackup(targets, values, current);
  const written = new Map(
    targets
      .filter((t) => keys.includes(t.key))
      .flatMap((t) => t.keys.map((k) => [k, values.get(k) ?? ''] as const)),
  );
  await Promise.all(targets.map((t) => t.close?.().catch(() => undefined)));
  const missing = keys.filter((k) => !values.get(k));
  if (missing.length > 0) {
    throw new RekeyError(
      'ERR_BACKUP_NOT_FOUND',
      `${source.holder} has no value for ${missing.join(', ')}; nothing was changed`,
      {
        hint:
          source.backup === undefined
            ? 'That rotation created the key: pass --backup PATH naming a file of KEY=value lines holding the values to return to, or rotate instead.'
            : 'Pick a backup written by rekey for this env file (`ls <envfile>.backup-*`), or rotate instead.',
      },
    );
  }
  return { source, values, keys, written };
}
