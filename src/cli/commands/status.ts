/** `rekey status`: age, last rotation, due date and state of every secret. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('age, last rotation, due date and state of every secret')
    .addOption(jsonOption())
    .action(async (o) => (await import('../status.js')).statusCommand(globals(), o));
}
