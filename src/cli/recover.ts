/** `rekey recover`: finish or undo an interrupted rotation. */
import { recover } from '../core/recover.js';
import { RotationControl } from '../core/run.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { progressFor } from './progress.js';
import { report } from './report.js';

export async function recoverCommand(
  globals: GlobalOptions,
  opts: { json?: boolean; yes?: boolean },
): Promise<void> {
  const progress = progressFor();
  const deps = await openStack(globals, { progress, control: new RotationControl() });
  await confirm(`Finish or undo the interrupted rotation of stack ${deps.loaded.stack}?`, opts.yes);
  try {
    // recover succeeds when the stack converged, forward or back; only exit 4 is a failure.
    report(await recover(deps), opts.json, ['rotated', 'rolled-back', 'nothing-to-do']);
  } finally {
    progress.stop();
  }
}
