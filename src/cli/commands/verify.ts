/** `rekey verify`: the post-rotation validation table. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption, triggerOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('verify')
    .description('the post-rotation validation table')
    .addOption(triggerOption('compromise: also look (read-only) for what an attacker could still use'))
    .addOption(jsonOption())
    .action(async (o) => (await import('../verify.js')).verifyCommand(globals(), o));
}
