/**
 * Shared by the store tests: runs a commit that another writer should make fail, and records the
 * case as a row of the resilience report (before the test asserts, so a failing case is a failing row).
 */
import { isRekeyError } from '../../src/lib/errors.js';
import { record } from '../helpers/resilience.js';

/**
 * Awaits `commit` (expected to be refused with ERR_STORE_CONFLICT), checks with `kept` that the other
 * writer's value survived, records a `concurrency` row, and returns what the commit threw.
 */
export async function conflictRow(
  suite: string,
  kase: string,
  commit: Promise<unknown>,
  kept: () => Promise<boolean>,
): Promise<unknown> {
  const error = await commit.then(
    () => undefined,
    (e: unknown) => e,
  );
  const refused = isRekeyError(error, 'ERR_STORE_CONFLICT');
  const survived = await kept();
  record({
    kind: 'concurrency',
    suite,
    case: kase,
    ok: refused && survived,
    detail: refused
      ? `commit refused (ERR_STORE_CONFLICT); the other writer's value ${survived ? 'kept' : 'LOST'}`
      : `commit not refused (${error === undefined ? 'it succeeded' : String((error as Error).message)})`,
  });
  return error;
}
