/** `rekey rotate`: the whole protocol under the lock. */
import type { Trigger } from '../config/schema.js';
import { rotate } from '../core/engine.js';
import { RotationControl } from '../core/run.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { progressFor } from './progress.js';
import { report } from './report.js';
import { installInterruptHandler } from './signals.js';

export interface RotateOptions {
  only?: string[];
  trigger: Trigger;
  ticket?: string;
  operator?: string;
  attach?: string[];
  yes?: boolean;
  json?: boolean;
  force?: boolean;
}

export async function rotateCommand(globals: GlobalOptions, opts: RotateOptions): Promise<void> {
  const progress = progressFor();
  const control = new RotationControl();
  const deps = await openStack(globals, { progress, control });
  await confirm(
    `Rotate ${opts.only?.join(', ') ?? 'every configured secret'} of stack ${deps.loaded.stack} now?`,
    opts.yes,
  );
  const uninstall = installInterruptHandler(control);
  try {
    const result = await rotate(deps, {
      trigger: opts.trigger,
      ...(opts.only ? { only: opts.only } : {}),
      ...(opts.force ? { force: true } : {}),
      meta: {
        ...(opts.ticket ? { ticket: opts.ticket } : {}),
        ...(opts.operator ? { operator: opts.operator } : {}),
        ...(opts.attach ? { attachments: opts.attach } : {}),
      },
    });
    progress.stop();
    report(result, opts.json);
  } finally {
    progress.stop();
    uninstall();
  }
}
