/**
 * Whose journal is it: `rekey recover` finishes or undoes only a rotation of its own store.
 */
import { RekeyError } from '../lib/errors.js';
import type { Journal } from './journal.js';
import type { Store } from './ports.js';

/**
 * A journal's store record names where it rotated (the env file: its real path). One naming another
 * place belongs to another stack: recovering it here would restore that stack's backup over this
 * store (`Store.owner` decides; the env file moved since is still this stack's).
 */
export async function refuseForeignJournal(
  journal: Journal | undefined,
  store: Store,
  file: string,
): Promise<void> {
  if (journal === undefined) return;
  const owner = await store.owner(journal.store);
  if (owner === undefined) return;
  const what = store.label;
  throw new RekeyError(
    'ERR_NEEDS_ATTENTION',
    `the interrupted rotation in ${file} belongs to ${owner}; nothing was changed`,
    {
      hint: `Recover it with the config of that ${what} (\`rekey recover --config <its rekey.yaml>\`); if the ${what} was moved or renamed, move it back first.`,
    },
  );
}
