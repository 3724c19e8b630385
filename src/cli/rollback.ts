/**
 * `rekey rollback [--backup PATH [--identity FILE]]`: return the stack, live services included, to a
 * backup's values. An age-encrypted archive is decrypted in memory with the identity, never to disk.
 * A stack whose values live in a managed store (no backup file) returns, without --backup, to the
 * values its last finished rotation replaced, read from the store's own history.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptArchive, isAgeFile } from '../backups/index.js';
import { registerSecretValues } from '../config/load.js';
import { changedByBackup } from '../engine/backup-diff.js';
import { rotate } from '../engine/engine.js';
import { previousOfLastRotation } from '../engine/previous.js';
import { nothingToDo, RotationControl } from '../engine/run.js';
import { envValues, listBackups, parseEnv } from '../envfile/index.js';
import { governRollback } from '../governance/hooks.js';
import { RekeyError } from '../lib/errors.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { withNotifications } from './notify-hooks.js';
import { progressFor } from './progress.js';
import { report } from './report.js';
import { installInterruptHandler } from './signals.js';

export async function rollbackCommand(
  globals: GlobalOptions,
  opts: {
    backup?: string;
    identity?: string;
    json?: boolean;
    yes?: boolean;
    operator?: string;
    ticket?: string;
    request?: string;
    breakGlass?: string;
    key?: string;
  },
): Promise<void> {
  const progress = progressFor();
  const control = new RotationControl();
  const stack = await openStack(globals, { progress, control });
  const { meta, hooks } = await governRollback(stack.loaded, {
    ...(opts.request !== undefined ? { request: opts.request } : {}),
    ...(opts.breakGlass !== undefined ? { breakGlass: opts.breakGlass } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.operator ? { operator: opts.operator } : {}),
    ...(opts.ticket ? { ticket: opts.ticket } : {}),
    warn: (m) => progress.note(`warning: ${m}`),
  });
  const deps = {
    ...stack,
    hooks: withNotifications(stack.loaded, hooks, (m) => progress.note(`warning: ${m}`)),
  };
  const source = await valuesToReturnTo(deps, opts);
  const current = (await deps.store.read()).values;
  // From the store's history: only the keys that rotation wrote; every other key stays as it is.
  const values = source.backup === undefined ? new Map([...current, ...source.values]) : source.values;
  for (const s of deps.loaded.config.secrets) registerSecretValues(s, values);
  // Every key a target writes counts (Target.keys): a backup differing only in a role name is a change.
  const targets = await deps.makeTargets(current);
  const keys = changedByBackup(targets, values, current);
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
  if (keys.length === 0) {
    report(
      nothingToDo('rollback', new Date(), [`the ${deps.store.label} already holds ${source.what}`]),
      opts.json,
    );
    return;
  }
  await confirm(`Return ${keys.join(', ')} to ${source.what}, live services included?`, opts.yes);
  if (source.rotation !== undefined) progress.note(`returning to ${source.what}`);
  const uninstall = installInterruptHandler(control);
  try {
    const result = await rotate(deps, {
      trigger: 'scheduled',
      only: keys,
      force: true,
      fixedValues: values,
      meta: { ...meta, rollbackFrom: source.backup ?? `rotation ${source.rotation}` },
    });
    progress.stop();
    report(result, opts.json);
  } finally {
    progress.stop();
    uninstall();
  }
}

/** What `rekey rollback` returns to, and how messages name it. */
interface RollbackSource {
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
async function valuesToReturnTo(
  deps: Awaited<ReturnType<typeof openStack>>,
  opts: { backup?: string; identity?: string },
): Promise<RollbackSource> {
  const envFile = deps.loaded.envFile;
  if (envFile === undefined && !opts.backup) {
    const prev = await previousOfLastRotation(deps.store, deps.stateDir);
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
