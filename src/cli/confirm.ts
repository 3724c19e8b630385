/**
 * Confirmation before changing production: asked on a terminal; `--yes` skips it; without a terminal
 * and without `--yes` the command refuses (exit 2) so a cron job never hangs on a prompt.
 */
import { createInterface } from 'node:readline/promises';
import { RekeyError } from '../lib/errors.js';

export async function confirm(question: string, yes: boolean | undefined): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new RekeyError('ERR_CONFIRMATION_REQUIRED', 'no terminal to confirm on, and --yes not given');
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = (await rl.question(`${question} [y/N] `)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes')
      throw new RekeyError('ERR_ABORTED', 'not confirmed; nothing was changed');
  } finally {
    rl.close();
  }
}
