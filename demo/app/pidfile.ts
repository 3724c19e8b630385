/**
 * The runner's pidfile: claimed at start (refused while another live process holds it), written
 * atomically, removed at exit only when it still holds our pid.
 */
import { readFile, rm } from 'node:fs/promises';
import { writeFileAtomic } from '../../src/lib/fsx.js';
import { processAlive } from '../../src/lib/process-alive.js';

/**
 * The pid in `file`, when it names a running process (a zombie is not one).
 *
 * @example
 * const pid = await livePid('/tmp/demo/state/app.pid'); // 4242 or undefined
 */
export async function livePid(file: string): Promise<number | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  return processAlive(pid) ? pid : undefined;
}

/**
 * Writes our pid to `file`; throws when it names another running process.
 *
 * @example
 * await claimPidfile('/tmp/demo/state/app.pid');
 */
export async function claimPidfile(file: string): Promise<void> {
  const other = await livePid(file);
  if (other !== undefined && other !== process.pid) {
    throw new Error(`already running: ${file} holds pid ${other} (stop it with: kill -TERM ${other})`);
  }
  await writeFileAtomic(file, `${process.pid}\n`, { mode: 0o644, forceMode: true });
}

/**
 * Removes `file` if it still holds our pid.
 *
 * @example
 * await releasePidfile('/tmp/demo/state/app.pid');
 */
export async function releasePidfile(file: string): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text.trim() === String(process.pid)) await rm(file, { force: true });
}
