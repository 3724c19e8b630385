/** `rekey approve REQUEST`: sign a change request with your SSH key. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('approve <request>')
    .description('sign a change request with your SSH key (ssh-keygen -Y sign, namespace rekey)')
    .requiredOption('--role <role>', 'the role you approve as (approvals.require)')
    .option('--key <path>', 'your private SSH key, or its .pub with the key in ssh-agent')
    .option(
      '--principal <name>',
      'the principal you sign as (signed; must be the key’s in allowed_signers); default: found from the key',
    )
    .option('--operator <name>', 'who runs the command (the approver is the key’s principal)')
    .addOption(jsonOption())
    .action(async (ref: string, o) => (await import('../governance.js')).approveCommand(globals(), ref, o));
}
