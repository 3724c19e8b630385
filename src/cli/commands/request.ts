/** `rekey request`: create a change request, to be approved before `rotate --request ID`. */
import { type Command, Option } from 'commander';
import { REQUEST_TRIGGERS } from '../../config/triggers.js';
import type { GlobalOptions } from '../context.js';
import { forceOption, jsonOption, onlyOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('request')
    .description('create a change request: what to rotate, to be approved before `rotate --request ID`')
    .addOption(
      new Option('--trigger <trigger>', 'why the rotation happens (rollback: for `rekey rollback`)')
        .choices(REQUEST_TRIGGERS)
        .makeOptionMandatory(),
    )
    .requiredOption('--ticket <id>', 'change ticket')
    .addOption(onlyOption())
    .addOption(forceOption())
    .option('--reason <text>', 'why, shown to the approvers')
    .option(
      '--backup <path>',
      'with --trigger rollback: the backup the rollback returns to (default: as `rekey rollback`); the request binds its values',
    )
    .option('--identity <file>', 'with --backup ARCHIVE.age: the age identity that decrypts it (in memory)')
    .option(
      '--key <path>',
      'your private SSH key (or its .pub with the key in ssh-agent): signs the request; the requester is the key’s principal in allowed_signers',
    )
    .option(
      '--operator <name>',
      'who requests, unsigned (default: git user.email, else the OS user); with --key, which of the key’s principals',
    )
    .addOption(jsonOption())
    .action(async (o) => (await import('../governance.js')).requestCommand(globals(), o));
}
