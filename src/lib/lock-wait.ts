/**
 * Short critical sections (a read-modify-write of a small state file) under the project's one lock
 * (`lock.ts`: holder pid + start time, taken over only when its holder died). Where `acquireLock`
 * fails at once, this waits while a live process holds the lock, since such a holder keeps it for
 * milliseconds.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isRekeyError, RekeyError } from './errors.js';
import { acquireOrTakeOver } from './lock.js';

export interface WaitOptions {
  /** How long to wait for a live holder before ERR_LOCKED (default 15 s). */
  readonly waitMs?: number;
}

/**
 * Runs `fn` holding the lock of `lockDir` (a folder of its own, holding only the `lock` file, so it
 * never competes with the stack's rotation lock). Waits while a live process holds it, takes over one
 * left by a dead holder, and throws ERR_LOCKED (naming the holder) when `waitMs` passes.
 *
 * @example
 * await withLock(path.join(stateDir, 'locks', 'schedule'), 'schedule', () => updateTheFile());
 */
export async function withLock<T>(
  lockDir: string,
  command: string,
  fn: () => Promise<T>,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + (options.waitMs ?? 15_000);
  let lock: Awaited<ReturnType<typeof acquireOrTakeOver>>['lock'];
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      ({ lock } = await acquireOrTakeOver(lockDir, command));
      break;
    } catch (e) {
      if (!isRekeyError(e, 'ERR_LOCKED')) throw e;
      if (Date.now() >= deadline) {
        throw new RekeyError('ERR_LOCKED', `${e.message} (${lockDir})`, {
          hint: 'Another rekey process is updating this file; run the command again in a moment. Never delete the lock by hand.',
        });
      }
      // Jitter: two waiters woken together should not collide again.
      await sleep(delay + Math.floor(Math.random() * delay));
    }
  }
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
