/** `rekey report`: the evidence report of a period, for auditors (Markdown, JSON or printable HTML). */
import { type Command, Option } from 'commander';
import type { GlobalOptions } from '../context.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('report')
    .description(
      'the evidence report of a period: rotations, approvals, verification, audit chain, policy met',
    )
    .requiredOption('--from <date>', 'first day of the period (YYYY-MM-DD, or an ISO 8601 time)')
    .requiredOption(
      '--to <date>',
      'last day of the period, included (YYYY-MM-DD, or an ISO 8601 time: excluded)',
    )
    .addOption(
      new Option('--format <format>', 'md, json or html (printable)')
        .choices(['md', 'json', 'html'])
        .default('md'),
    )
    .option('--out <file>', 'write the report to FILE instead of stdout')
    .action(async (o) => (await import('../report-command.js')).reportCommand(globals(), o));
}
