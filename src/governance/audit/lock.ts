/**
 * A short-lived lock file (O_EXCL) serialising appends to the audit log and updates of a request.
 * Held for milliseconds; one older than {@link STALE_MS} is taken to be left by a killed process.
 */
import { constants, promises as fs } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { RekeyError } from '../../core/errors.js';

const STALE_MS = 30_000;
const WAIT_MS = 15_000;

/**
 * Runs `fn` holding the lock file `file`.
 *
 * @example
 * await withFileLock(path.join(stateDir, 'audit.lock'), () => append());
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
    try {
      const handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const st = await fs.stat(file).catch(() => undefined);
    if (st !== undefined && Date.now() - st.mtimeMs > STALE_MS) {
      await fs.rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new RekeyError('ERR_LOCKED', `${file} is held by another rekey process`, {
        hint: 'Wait a moment and run the command again; remove the file only if no rekey process is running.',
      });
    }
    await sleep(delay);
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}
