/**
 * Private temp folders with a canary file in each, for the tests that check a cleanup removes only
 * what it created: point TMPDIR (and REKEY_STACK_TMPDIR) at them, run the code, then assert the
 * canaries survived and nothing else was left behind. The folders themselves are marked (see
 * src/lib/owned-dir.ts), so even a cleanup that wrongly removed "the temp folder" hits only them.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeOwnedDir, OWNED_MARKER, removeOwnedDir } from '../../src/lib/owned-dir.js';

export const CANARY = 'canary-do-not-delete';

export interface CanaryTmp {
  /** Stands for the OS temp folder (TMPDIR). */
  readonly tmp: string;
  /** Stands for REKEY_STACK_TMPDIR (made beside the real one when it is set, for the speed of tmpfs). */
  readonly stack: string;
  /** TMPDIR and REKEY_STACK_TMPDIR pointing at them. */
  readonly env: { TMPDIR: string; REKEY_STACK_TMPDIR: string };
  /** Names left in either folder besides the canaries and markers (e.g. `tmp/rekey-pg-x1y2z3`). */
  leftovers(): Promise<string[]>;
  /** Throws unless both canaries are still there with their content. */
  assertCanaries(): Promise<void>;
  /** True when both canaries are still there with their content. */
  intact(): Promise<boolean>;
  /** Removes both folders. */
  remove(): Promise<void>;
}

/**
 * @example
 * const c = await canaryTmp();
 * // ... run with c.env ...
 * await c.assertCanaries(); expect(await c.leftovers()).toEqual([]);
 */
export async function canaryTmp(): Promise<CanaryTmp> {
  const tmp = await makeOwnedDir('rekey-canary-tmp-');
  const stack = await makeOwnedDir('rekey-canary-stack-', {
    base: process.env.REKEY_STACK_TMPDIR || os.tmpdir(),
  });
  for (const dir of [tmp, stack]) {
    // like /tmp: a server running as another user (postgres, when we are root) must traverse it
    await fs.chmod(dir, 0o711);
    await fs.writeFile(path.join(dir, CANARY), `canary of ${dir}\n`);
  }
  const named = { tmp, stack };
  const assertCanaries = async () => {
    for (const dir of [tmp, stack]) {
      const text = await fs.readFile(path.join(dir, CANARY), 'utf8').catch(() => undefined);
      if (text !== `canary of ${dir}\n`) throw new Error(`the canary in ${dir} was deleted`);
    }
  };
  return {
    tmp,
    stack,
    env: { TMPDIR: tmp, REKEY_STACK_TMPDIR: stack },
    async leftovers() {
      const out: string[] = [];
      for (const [label, dir] of Object.entries(named)) {
        for (const name of await fs.readdir(dir).catch(() => [] as string[]))
          if (name !== CANARY && name !== OWNED_MARKER) out.push(`${label}/${name}`);
      }
      return out;
    },
    assertCanaries,
    intact: () =>
      assertCanaries().then(
        () => true,
        () => false,
      ),
    async remove() {
      await removeOwnedDir(tmp);
      if (stack !== tmp) await removeOwnedDir(stack);
    },
  };
}
