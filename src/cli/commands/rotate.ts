/** `rekey rotate`: the whole protocol, behind change control (--request, --break-glass). */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import {
  breakGlassKeyOption,
  collect,
  forceOption,
  jsonOption,
  onlyOption,
  triggerOption,
} from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rotate')
    .description('rotate: new values on the live services, env file, deploy, verify; rolls back on failure')
    .addOption(onlyOption())
    .addOption(triggerOption())
    .addOption(
      forceOption(
        'with --trigger personnel, honour --only; rotate despite a critical `rekey doctor` finding',
      ),
    )
    .option('--ticket <id>', 'change ticket, recorded in the audit log')
    .option('--operator <name>', 'who rotates (default: git user.email, else the OS user)')
    .option('--attach <file>', 'attach a scan report to the audit record (repeatable)', collect)
    .option('--yes', 'do not ask for confirmation')
    .addOption(jsonOption())
    .option('--request <id>', 'the approved change request authorizing this rotation')
    .option('--break-glass <reason>', 'with --trigger compromise: rotate now, approvals after the fact')
    .addOption(breakGlassKeyOption())
    .hook('preAction', (cmd) => {
      // A hand rotation without --trigger (nor a request naming one) is recorded as `manual`.
      if (cmd.getOptionValueSource('trigger') !== 'cli' && cmd.getOptionValue('request') === undefined) {
        cmd.setOptionValue('recordedTrigger', 'manual');
      }
    })
    .action(async (o) => (await import('../rotate.js')).rotateCommand(globals(), o));
}
