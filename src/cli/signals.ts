/**
 * Ctrl-C and SIGTERM during a rotation: the first stops at the next safe point and rolls back; a
 * second is refused while the env file is being written, and otherwise exits at once, leaving the
 * journal for `rekey recover`.
 */

import type { RotationControl } from '../engine/run.js';
import { haltCommands, killRunningCommands, runningCommands } from '../lib/command.js';
import { writeErr } from '../lib/log.js';

export interface InterruptOptions {
  /** Runs on the first signal instead of the default notice (the control is interrupted anyway). */
  readonly first?: (signal: NodeJS.Signals) => void;
  /** Where the notices go (default: stderr). */
  readonly say?: (line: string) => void;
}

/**
 * Installs the handler; returns its uninstaller.
 *
 * @example
 * const uninstall = installInterruptHandler(control);
 * try { await rotate(...) } finally { uninstall() }
 */
export function installInterruptHandler(
  control: RotationControl,
  options: InterruptOptions = {},
): () => void {
  const say = options.say ?? writeErr;
  let count = 0;
  const handler = (signal: NodeJS.Signals) => {
    count++;
    if (count === 1) {
      control.interrupt();
      if (options.first) options.first(signal);
      else {
        say(`\n${signal}: stopping at the next safe point, then rolling back (Ctrl-C again to exit at once)`);
      }
      return;
    }
    if (control.critical) {
      say(`${signal} refused: ${control.critical}; rekey stops and rolls back right after`);
      return;
    }
    say(`${signal} again: exiting now; run \`rekey recover\` to finish or undo the rotation`);
    uninstall();
    // A deploy still running must not race the `rekey recover` that follows: stop it first (up to
    // 2 s, then SIGKILL). Meanwhile the rotation is parked: a command ending does not let it go on.
    haltCommands('SIGTERM');
    const deadline = Date.now() + 2000;
    const exit = () => {
      if (runningCommands() > 0 && Date.now() < deadline) {
        setTimeout(exit, 25);
        return;
      }
      killRunningCommands('SIGKILL');
      // Re-raise with the default action: the process ends as killed by the signal (exit 130/143).
      process.kill(process.pid, signal);
    };
    exit();
  };
  const uninstall = () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return uninstall;
}
