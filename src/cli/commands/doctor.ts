/** `rekey doctor`: read-only checks of the stack, findings with stable ids; exit 3 at or above --fail-on. */
import { type Command, Option } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption, list } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('doctor')
    .description('find what would make a rotation fail or a secret weak (read-only); exit 3 on findings')
    .addOption(jsonOption())
    .option('--sarif <file>', 'also write the findings as SARIF 2.1.0 (GitHub code scanning)')
    .addOption(
      new Option('--fail-on <severity>', 'exit 3 when a finding is at or above it')
        .choices(['info', 'low', 'medium', 'high', 'critical', 'never'])
        .default('high'),
    )
    .option('--only <ids>', 'comma-separated rule ids to report (RK101,…)', list)
    .option('--skip <ids>', 'comma-separated rule ids not to report', list)
    .action(async (o) => (await import('../doctor.js')).doctorCommand(globals(), o));
}
