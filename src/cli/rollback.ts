/**
 * `rekey rollback [--backup PATH [--identity FILE]]`: return the stack, live services included, to a
 * backup's values. An age-encrypted archive is decrypted in memory with the identity, never to disk.
 * A stack whose values live in a managed store (no backup file) returns, without --backup, to the
 * values its last finished rotation replaced, read from the store's own history.
 */
import { rollbackPlan } from '../backups/rollback-source.js';
import { rotate } from '../engine/engine.js';
import { nothingToDo, RotationControl } from '../engine/run.js';
import { governRollback } from '../governance/hooks.js';
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
  const { source, values, keys, written } = await rollbackPlan(stack, opts);
  const { meta, hooks } = await governRollback(stack.loaded, {
    ...(opts.request !== undefined ? { request: opts.request } : {}),
    ...(opts.breakGlass !== undefined ? { breakGlass: opts.breakGlass } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.operator ? { operator: opts.operator } : {}),
    ...(opts.ticket ? { ticket: opts.ticket } : {}),
    warn: (m) => progress.note(`warning: ${m}`),
    returnTo: { written, what: source.what },
  });
  const deps = {
    ...stack,
    hooks: withNotifications(stack.loaded, hooks, (m) => progress.note(`warning: ${m}`)),
  };
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
