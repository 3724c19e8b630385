/** `rekey rotate`: the whole protocol under the lock, behind change control. */
import type { Trigger } from '../config/schema.js';
import type { RecordedTrigger } from '../config/triggers.js';
import { rotate } from '../engine/engine.js';
import { RotationControl } from '../engine/run.js';
import { governRotation } from '../governance/hooks.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { doctorGate } from './doctor-gate.js';
import { withNotifications } from './notify-hooks.js';
import { progressFor } from './progress.js';
import { report } from './report.js';
import { installInterruptHandler } from './signals.js';

export interface RotateOptions {
  only?: string[];
  trigger: Trigger;
  /** Set by commands/rotate.ts: `manual` when neither --trigger nor --request was given. */
  recordedTrigger?: RecordedTrigger;
  ticket?: string;
  operator?: string;
  attach?: string[];
  request?: string;
  breakGlass?: string;
  key?: string;
  yes?: boolean;
  json?: boolean;
  force?: boolean;
}

export async function rotateCommand(globals: GlobalOptions, opts: RotateOptions): Promise<void> {
  const progress = progressFor();
  const control = new RotationControl();
  const stack = await openStack(globals, { progress, control });
  const { meta, hooks } = await governRotation(stack.loaded, {
    trigger: opts.trigger,
    ...(opts.recordedTrigger ? { recordedTrigger: opts.recordedTrigger } : {}),
    ...(opts.request !== undefined ? { request: opts.request } : {}),
    ...(opts.breakGlass !== undefined ? { breakGlass: opts.breakGlass } : {}),
    ...(opts.key !== undefined ? { key: opts.key } : {}),
    ...(opts.operator ? { operator: opts.operator } : {}),
    ...(opts.ticket ? { ticket: opts.ticket } : {}),
    ...(opts.attach ? { attach: opts.attach } : {}),
    warn: (m) => progress.note(`warning: ${m}`),
  });
  const deps = {
    ...stack,
    hooks: withNotifications(stack.loaded, hooks, (m) => progress.note(`warning: ${m}`)),
  };
  await doctorGate(stack.loaded, opts.only, opts.force === true, (m) => progress.note(`warning: ${m}`));
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
      meta,
    });
    progress.stop();
    report(result, opts.json);
  } finally {
    progress.stop();
    uninstall();
  }
}
