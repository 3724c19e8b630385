/** Temp dirs that clean up after themselves. */
import { readdir } from 'node:fs/promises';
import { afterAll, onTestFinished } from 'vitest';
import { makeOwnedDir, OWNED_MARKER, removeOwnedDir, removeOwnedDirSync } from '../../src/lib/owned-dir.js';

/** Dirs made outside a test (in a hook): removed after the file's tests, or at exit at the latest. */
const pending = new Set<string>();
const removePending = async () => {
  await Promise.all([...pending].map((dir) => removeOwnedDir(dir)));
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
  for (const dir of pending) removeOwnedDirSync(dir);
});

/**
 * Creates a new temp dir (marked: see src/lib/owned-dir.ts, its `.rekey-owned` file is the only
 * thing in it at first), removed when the current test finishes; called from a hook (beforeAll,
 * beforeEach), removed after the file's last test.
 *
 * @example
 * it('writes the env file', async () => { const dir = await tempDir(); ... });
 */
export async function tempDir(prefix = 'rekey-test-'): Promise<string> {
  const dir = await makeOwnedDir(prefix);
  try {
    onTestFinished(() => removeOwnedDir(dir).then(() => {}));
  } catch {
    pending.add(dir);
  }
  return dir;
}

/**
 * The names in a folder made by {@link tempDir} (or makeOwnedDir) without its `.rekey-owned` marker:
 * what the code under test left there.
 *
 * @example
 * expect(await entries(dir)).toEqual(['.env.production']); // and no temp file
 */
export async function entries(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => name !== OWNED_MARKER);
}
