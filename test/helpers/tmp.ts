/** Temp dirs that clean up after themselves. */
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';

/** Dirs made outside a test (in a hook): removed after the file's tests, or at exit at the latest. */
const pending = new Set<string>();
const removePending = async () => {
  await Promise.all([...pending].map((dir) => rm(dir, { recursive: true, force: true })));
  pending.clear();
};
// Imported while vitest collects a test file, so this hook belongs to that file. (A hook registered
// later, from inside another hook, would be silently ignored.)
try {
  afterAll(removePending);
} catch {
  // not collecting a test file: the exit hook below still cleans up
}
process.once('exit', () => {
  for (const dir of pending) rmSync(dir, { recursive: true, force: true });
});

/**
 * Creates a new temp dir, removed when the current test finishes; called from a hook (beforeAll,
 * beforeEach), removed after the file's last test.
 *
 * @example
 * it('writes the env file', async () => { const dir = await tempDir(); ... });
 */
export async function tempDir(prefix = 'rekey-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
  } catch {
    pending.add(dir);
  }
  return dir;
}
