/**
 * `rekey rollback`: return to a backup's values (a store stack: those its last rotation replaced),
 * behind change control (--request, --break-glass).
 */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { breakGlassKeyOption, jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rollback')
    .description("return to a backup's values, live services included")
    .option(
      '--backup <path>',
      "the backup to return to (default: the newest; a store stack: the values its last rotation replaced, from the store's history)",
    )
    .option('--operator <name>', 'who rolls back')
    .option('--ticket <id>', 'change ticket')
    .option('--yes', 'do not ask for confirmation')
    .addOption(jsonOption())
    .option('--identity <file>', 'age identity file, to roll back from an encrypted archive')
    .option('--request <id>', 'the approved change request (trigger rollback) authorizing this rollback')
    .option('--break-glass <reason>', 'roll back now, approvals after the fact')
    .addOption(breakGlassKeyOption())
    .action(async (o) => (await import('../rollback.js')).rollbackCommand(globals(), o));
}
