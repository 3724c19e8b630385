/**
 * `rekey rollback [--backup PATH [--identity FILE]]`: return the stack, live services included, to a
 * backup's values. An age-encrypted archive is decrypted in memory with the identity, never to disk.
 * A stack whose values live in a managed store (no backup file) returns, without --backup, to the
 * values its last finished rotation replaced, read from the store's own history.
 */
import { rollbackSource } from '../backups/rollback-source.js';
import { registerSecretValues } from '../config/load.js';
import { changedByBackup } from '../engine/backup-diff.js';
import { rotate } from '../engine/engine.js';
import { nothingToDo, RotationControl } from '../engine/run.js';
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
  const source = await rollbackSource(deps.loaded.envFile, deps.store, deps.stateDir, opts);
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
