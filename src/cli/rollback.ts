/**
 * `rekey rollback [--backup PATH [--identity FILE]]`: return the stack, live services included, to a
 * backup's values. An age-encrypted archive is decrypted in memory with the identity, never to disk.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { decryptArchive, isAgeFile } from '../backups/index.js';
import { registerSecretValues } from '../config/load.js';
import { changedByBackup } from '../engine/backup-diff.js';
import { rotate } from '../engine/engine.js';
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
  const envFile = deps.loaded.envFile;
  if (envFile === undefined && !opts.backup)
    throw new RekeyError(
      'ERR_BACKUP_NOT_FOUND',
      `rekey keeps no backup file for ${deps.store.name}: the old values are in the store's own history`,
      {
        hint: 'Pass --backup PATH (an env file or rekey backup holding the values to return to); nothing was changed.',
      },
    );
  const backup = opts.backup ? path.resolve(opts.backup) : (await listBackups(envFile as string))[0];
  if (backup === undefined)
    throw new RekeyError('ERR_BACKUP_NOT_FOUND', `no backup of ${path.basename(envFile as string)} found`, {
      hint: 'Pass --backup PATH, or --backup ARCHIVE.age --identity FILE for an encrypted archive.',
    });
  const text = await readBackup(backup, opts.identity);
  const values = envValues(parseEnv(text, path.basename(backup)));
  for (const s of deps.loaded.config.secrets) registerSecretValues(s, values);
  const current = (await deps.store.read()).values;
  // Every key a target writes counts (Target.keys): a backup differing only in a role name is a change.
  const targets = await deps.makeTargets(current);
  const keys = changedByBackup(targets, values, current);
  await Promise.all(targets.map((t) => t.close?.().catch(() => undefined)));
  const missing = keys.filter((k) => !values.get(k));
  if (missing.length > 0) {
    throw new RekeyError(
      'ERR_BACKUP_NOT_FOUND',
      `the backup has no value for ${missing.join(', ')}; nothing was changed`,
      {
        hint: 'Pick a backup written by rekey for this env file (`ls <envfile>.backup-*`), or rotate instead.',
      },
    );
  }
  if (keys.length === 0) {
    report(
      nothingToDo('rollback', new Date(), [
        `the env file already holds the values of ${path.basename(backup)}`,
      ]),
      opts.json,
    );
    return;
  }
  await confirm(
    `Return ${keys.join(', ')} to the values of ${path.basename(backup)}, live services included?`,
    opts.yes,
  );
  const uninstall = installInterruptHandler(control);
  try {
    const result = await rotate(deps, {
      trigger: 'scheduled',
      only: keys,
      force: true,
      fixedValues: values,
      meta: { ...meta, rollbackFrom: backup },
    });
    progress.stop();
    report(result, opts.json);
  } finally {
    progress.stop();
    uninstall();
  }
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
