/** Commands of policy and observability: status, check, serve, schedule. */

import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT } from '../policy/server-defaults.js';
import type { GlobalOptions } from './context.js';
import { list, port } from './options.js';

export function registerPolicyCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('age, last rotation, due date and state of every secret')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./policy.js')).statusCommand(globals(), o));

  program
    .command('check')
    .description('CI reminder: exit 3 when a secret is overdue (warnings when due soon)')
    .option('--before-release', 'also fail when a secret is older than policy.releaseMaxAge')
    .option('--json', 'print one JSON document on stdout')
    .action(async (o) => (await import('./policy.js')).checkCommand(globals(), o));

  program
    .command('serve')
    .description('Prometheus metrics on /metrics (loopback only unless --token-file)')
    .option('--host <host>', 'address to bind', DEFAULT_HOST)
    .option('--port <port>', 'port to bind (0: any free port)', port, DEFAULT_PORT)
    .option('--token-file <file>', 'require `Authorization: Bearer <token>`, the token read from this file')
    .action(async (o) => (await import('./policy.js')).serveCommand(globals(), o));

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
    .option('--json', 'with --once or --clear: print one JSON document on stdout')
    .action(async (o) => (await import('./policy.js')).scheduleCommand(globals(), o));
}
