/** `rekey recover`: finish or undo an interrupted rotation (audited like the rotation itself). */
import { recover } from '../engine/recover.js';
import { RotationControl } from '../engine/run.js';
import { governanceHooks } from '../governance/hooks.js';
import { operatorIdentity } from '../governance/identity.js';
import { confirm } from './confirm.js';
import { type GlobalOptions, openStack } from './context.js';
import { withNotifications } from './notify-hooks.js';
import { progressFor } from './progress.js';
import { report } from './report.js';

export async function recoverCommand(
  globals: GlobalOptions,
  opts: { json?: boolean; yes?: boolean; operator?: string },
): Promise<void> {
  const progress = progressFor();
  const stack = await openStack(globals, { progress, control: new RotationControl() });
  const operator = await operatorIdentity(stack.loaded.dir, opts.operator);
  const hooks = governanceHooks(stack.loaded, {
    command: 'recover',
    operator,
    warn: (m) => progress.note(`warning: ${m}`),
  });
  const deps = {
    ...stack,
    hooks: withNotifications(stack.loaded, hooks, (m) => progress.note(`warning: ${m}`)),
  };
  await confirm(`Finish or undo the interrupted rotation of stack ${deps.loaded.stack}?`, opts.yes);
  try {
    // recover succeeds when the stack converged, forward or back; only exit 4 is a failure.
    report(await recover(deps), opts.json, ['rotated', 'rolled-back', 'nothing-to-do']);
  } finally {
    progress.stop();
  }
}
