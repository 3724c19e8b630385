/** `rekey requests`: list change requests and what each still needs. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('requests')
    .description('list change requests and what each still needs')
    .addOption(jsonOption())
    .action(async (o) => (await import('../governance.js')).requestsCommand(globals(), o));
}
