/**
 * Ctrl-C and SIGTERM during a rotation: the first stops at the next safe point and rolls back; a
 * second is refused while the env file is being written, and otherwise exits at once, leaving the
 * journal for `rekey recover`.
 */
import { writeErr } from '../core/log.js';
import type { RotationControl } from '../core/run.js';
import { killRunningCommands } from '../deploy/run.js';

export function installInterruptHandler(control: RotationControl): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      control.interrupt();
      writeErr(
        `\n${signal}: stopping at the next safe point, then rolling back (Ctrl-C again to exit at once)`,
      );
      return;
    }
    if (control.critical) {
      writeErr(`${signal} refused: ${control.critical}; rekey stops and rolls back right after`);
      return;
    }
    writeErr(`${signal} again: exiting now; run \`rekey recover\` to finish or undo the rotation`);
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    // A deploy still running must not race the `rekey recover` that follows: stop it first.
    const children = killRunningCommands('SIGTERM');
    setTimeout(
      () => {
        killRunningCommands('SIGKILL');
        // Re-raise with the default action: the process ends as killed by the signal (exit 130/143).
        process.kill(process.pid, signal);
      },
      children > 0 ? 2000 : 0,
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
