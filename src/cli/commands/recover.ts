/** `rekey recover`: finish or undo an interrupted rotation. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('recover')
    .description('finish or undo an interrupted rotation')
    .option('--yes', 'do not ask for confirmation')
    .addOption(jsonOption())
    .option('--operator <name>', 'who recovers (default: git user.email, else the OS user)')
    .action(async (o) => (await import('../recover.js')).recoverCommand(globals(), o));
}
