/**
 * Another process holding one of the project's locks (the built src/lib/lock.ts), for the tests of
 * what a live holder means to a waiter and what its death changes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const LOCK_JS = path.resolve(import.meta.dirname, '../../dist/src/lib/lock.js');

/**
 * Starts a process that takes the lock of `lockDir` (as `command`) and keeps it until killed;
 * resolves once it holds it, rejects if it exits first. Kill it with SIGKILL (as a crash would).
 *
 * @example
 * const holder = await holdLock(store.lockDir, 'schedule');
 * try { … } finally { holder.kill('SIGKILL'); await once(holder, 'exit'); }
 */
export async function holdLock(lockDir: string, command: string): Promise<ChildProcess> {
  const holder = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { acquireLock } from ${JSON.stringify(LOCK_JS)};
await acquireLock(${JSON.stringify(lockDir)}, ${JSON.stringify(command)});
process.stdout.write('held\\n');
setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  // Held, or the holder failed to start (then the test fails here rather than waiting forever).
  await Promise.race([
    once(holder.stdout as NodeJS.ReadableStream, 'data'),
    once(holder, 'exit').then(() => {
      throw new Error('the lock holder exited');
    }),
  ]);
  return holder;
}
