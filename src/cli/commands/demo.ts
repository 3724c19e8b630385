/** `rekey demo`: a throwaway local stack, a full rotation, then tear down. */
import type { Command } from 'commander';
import { jsonOption } from '../options.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('throwaway local stack, full rotation, then tear down')
    .option('--keep', 'leave the stack running and print how to reach and stop it')
    .option(
      '--store <type>',
      'a store variant: the app reads its JWT secret and API key from vault-kv, aws-ssm or aws-secretsmanager (a stand-in)',
    )
    .addOption(jsonOption('print one JSON document (the claims and their outcomes) on stdout'))
    .action(async (o) => (await import('../demo.js')).demoCommand(o));
}
