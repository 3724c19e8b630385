/** `rekey audit show|verify|check-value`: the tamper-evident audit log. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  const audit = program.command('audit').description('the tamper-evident audit log');
  audit
    .command('show')
    .description('print the history')
    .option('--limit <n>', 'only the newest N records', (v) => Number.parseInt(v, 10))
    .option('--all-stacks', "every stack's records, when configs sharing a folder share the log")
    .addOption(jsonOption())
    .action(async (o) => (await import('../governance.js')).auditShowCommand(globals(), o));
  audit
    .command('verify')
    .description('check the hash chain, MACs and anchor: exit 1 naming the first broken record')
    .option('--anchor <file>', 'a file of anchor heads to check against (default: audit.anchor.file)')
    .addOption(jsonOption())
    .action(async (o) => (await import('../governance.js')).auditVerifyCommand(globals(), o));
  audit
    .command('check-value <key>')
    .description("does the env file's value of KEY match the fingerprint the audit recorded last?")
    .addOption(jsonOption())
    .action(async (key: string, o) =>
      (await import('../governance.js')).auditCheckValueCommand(globals(), key, o),
    );
}
