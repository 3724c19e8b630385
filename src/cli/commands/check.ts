/** `rekey check`: the CI reminder (exit 3 when a secret is overdue). */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('check')
    .description('CI reminder: exit 3 when a secret is overdue (warnings when due soon)')
    .option('--before-release', 'also fail when a secret is older than policy.releaseMaxAge')
    .addOption(jsonOption())
    .action(async (o) => (await import('../policy.js')).checkCommand(globals(), o));
}
