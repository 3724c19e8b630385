/**
 * Ctrl-C and SIGTERM during a rotation: the first stops at the next safe point and rolls back; a
 * second is refused while the env file is being written, and otherwise exits at once, leaving the
 * journal for `rekey recover`.
 */
import { writeErr } from '../core/log.js';
import type { RotationControl } from '../core/run.js';

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
    // Re-raise with the default action, so the process ends as killed by the signal (exit 130/143).
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    process.kill(process.pid, signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
