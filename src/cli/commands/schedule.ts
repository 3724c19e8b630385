/** `rekey schedule`: unattended rotation of due secrets marked `unattended: true`. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { jsonOption, list } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('schedule')
    .description(
      'unattended rotation of due secrets marked `unattended: true`, at schedule.cron (foreground)',
    )
    .option('--once', 'one scheduled run now (no waiting, no jitter), then exit')
    .option(
      '--clear [keys]',
      'clear "needs attention" and failure counts (of the keys named, else all), then exit',
    )
    .option('--allow-unattended <types>', 'types besides postgres and redis that may be unattended', list)
    .addOption(jsonOption('with --once or --clear: print one JSON document on stdout'))
    .action(async (o) => (await import('../policy.js')).scheduleCommand(globals(), o));
}
