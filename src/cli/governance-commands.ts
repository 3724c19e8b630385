/**
 * Commands of change control and audit: request, approve, requests, audit show|verify|check-value;
 * and the governance options of rotate (--request, --break-glass), rollback (--identity) and recover
 * (--operator), plus the "change control is off" warning of plan.
 */

import { type Command, Option } from 'commander';
import { REQUEST_TRIGGERS } from '../config/triggers.js';
import type { GlobalOptions } from './context.js';
import { list } from './options.js';

export function registerGovernanceCommands(program: Command, globals: () => GlobalOptions): void {
  extendEngineCommands(program, globals);

  program
    .command('request')
    .description('create a change request: what to rotate, to be approved before `rotate --request ID`')
    .addOption(
      new Option('--trigger <trigger>', 'why the rotation happens (rollback: for `rekey rollback`)')
        .choices(REQUEST_TRIGGERS)
        .makeOptionMandatory(),
    )
    .requiredOption('--ticket <id>', 'change ticket')
    .option('--only <keys>', 'comma-separated keys to rotate', list)
    .option('--force', 'with --trigger personnel, honour --only')
    .option('--reason <text>', 'why, shown to the approvers')
    .option(
      '--key <path>',
      'your private SSH key (or its .pub with the key in ssh-agent): signs the request; the requester is the key’s principal in allowed_signers',
    )
    .option(
      '--operator <name>',
      'who requests, unsigned (default: git user.email, else the OS user); with --key, which of the key’s principals',
    )
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./governance.js')).requestCommand(globals(), o));

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
    .option('--json', 'print one JSON document on stdout')
    .action(async (ref: string, o) => (await import('./governance.js')).approveCommand(globals(), ref, o));

  program
    .command('requests')
    .description('list change requests and what each still needs')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./governance.js')).requestsCommand(globals(), o));

  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('show')
    .description('print the history')
    .option('--limit <n>', 'only the newest N records', (v) => Number.parseInt(v, 10))
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./governance.js')).auditShowCommand(globals(), o));
  audit
    .command('verify')
    .description('check the hash chain, MACs and anchor: exit 1 naming the first broken record')
    .option('--anchor <file>', 'a file of anchor heads to check against (default: audit.anchor.file)')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./governance.js')).auditVerifyCommand(globals(), o));
  audit
    .command('check-value <key>')
    .description("does the env file's value of KEY match the fingerprint the audit recorded last?")
    .option('--json', 'print one JSON document on stdout')
    .action(async (key: string, o) =>
      (await import('./governance.js')).auditCheckValueCommand(globals(), key, o),
    );
}

/** Options of rotate, rollback and recover that belong to change control; the plan warning. */
function extendEngineCommands(program: Command, globals: () => GlobalOptions): void {
  const find = (name: string) => program.commands.find((c) => c.name() === name);
  find('rotate')
    ?.option('--request <id>', 'the approved change request authorizing this rotation')
    .option('--break-glass <reason>', 'with --trigger compromise: rotate now, approvals after the fact')
    .option(
      '--key <path>',
      'with --break-glass: your SSH key; signs the break-glass statement (default: the OS user is recorded)',
    )
    .hook('preAction', (cmd) => {
      // A hand rotation without --trigger (nor a request naming one) is recorded as `manual`.
      if (cmd.getOptionValueSource('trigger') !== 'cli' && cmd.getOptionValue('request') === undefined) {
        cmd.setOptionValue('recordedTrigger', 'manual');
      }
    });
  find('rollback')
    ?.option('--identity <file>', 'age identity file, to roll back from an encrypted archive')
    .option('--request <id>', 'the approved change request (trigger rollback) authorizing this rollback')
    .option('--break-glass <reason>', 'roll back now, approvals after the fact')
    .option(
      '--key <path>',
      'with --break-glass: your SSH key; signs the break-glass statement (default: the OS user is recorded)',
    );
  find('recover')?.option('--operator <name>', 'who recovers (default: git user.email, else the OS user)');
  find('plan')?.hook('preAction', async () => {
    const [{ loadConfig }, { changeControlWarning }, { log }] = await Promise.all([
      import('../config/load.js'),
      import('../governance/hooks.js'),
      import('../lib/log.js'),
    ]);
    const loaded = await loadConfig(globals().config).catch(() => undefined);
    const warning = loaded ? changeControlWarning(loaded) : undefined;
    if (warning) log.warn(warning);
  });
}
