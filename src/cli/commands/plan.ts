/** `rekey plan`: the dry run, with the "change control is off" warning. */
import type { Command } from 'commander';
import type { GlobalOptions } from '../context.js';
import { forceOption, jsonOption, onlyOption, triggerOption } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('plan')
    .description('dry run: preflight checks and what a rotation would change')
    .addOption(onlyOption())
    .addOption(triggerOption())
    .addOption(forceOption())
    .addOption(jsonOption())
    .hook('preAction', async () => {
      const [{ loadConfig }, { changeControlWarning }, { log }] = await Promise.all([
        import('../../config/load.js'),
        import('../../governance/hooks.js'),
        import('../../lib/log.js'),
      ]);
      const loaded = await loadConfig(globals().config).catch(() => undefined);
      const warning = loaded ? changeControlWarning(loaded) : undefined;
      if (warning) log.warn(warning);
    })
    .action(async (o) => (await import('../plan.js')).planCommand(globals(), o));
}
