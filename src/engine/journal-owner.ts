/**
 * Whose journal is it: `rekey recover` finishes or undoes only a rotation of its own env file.
 */
import { existsSync } from 'node:fs';
import { RekeyError } from '../lib/errors.js';
import { sha256 } from '../lib/hash.js';
import type { Journal } from './journal.js';

/**
 * A journal names the env file it rotated (real path). One naming another env file belongs to another
 * stack: recovering it here would restore that stack's backup over this env file. (The same file
 * moved since, `stackState` shows its journal here: its bytes are the journal's old or new ones.)
 */
export function refuseForeignJournal(
  journal: Journal | undefined,
  env: { readonly realPath: string; readonly text: string },
  file: string,
): void {
  if (journal === undefined || typeof journal.envFile !== 'string' || journal.envFile === env.realPath)
    return;
  const now = sha256(env.text);
  if (!existsSync(journal.envFile) && (now === journal.envBeforeSha256 || now === journal.envAfterSha256))
    return;
  const envRealPath = env.realPath;
  throw new RekeyError(
    'ERR_NEEDS_ATTENTION',
    `the interrupted rotation in ${file} belongs to the env file ${journal.envFile}, not ${envRealPath}; nothing was changed`,
    {
      hint: `Recover it with the config of that env file (\`rekey recover --config <its rekey.yaml>\`); if the env file was moved or renamed, move it back first.`,
    },
  );
}
