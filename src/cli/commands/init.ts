/** `rekey init`: write rekey.yaml detected from the env file. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('write rekey.yaml detected from the env file')
    .option('--env-file <path>', 'the env file', '.env.production')
    .addOption(jsonOption())
    .action(async (o) => (await import('../init.js')).initCommand(globals(), o));
}
