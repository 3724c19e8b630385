/** `rekey serve`: Prometheus metrics on /metrics. */
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT } from '../../policy/server-defaults.js';
import type { GlobalOptions } from '../context.js';
import { port } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description('Prometheus metrics on /metrics (loopback only unless --token-file)')
    .option('--host <host>', 'address to bind', DEFAULT_HOST)
    .option('--port <port>', 'port to bind (0: any free port)', port, DEFAULT_PORT)
    .option('--token-file <file>', 'require `Authorization: Bearer <token>`, the token read from this file')
    .action(async (o) => (await import('../policy.js')).serveCommand(globals(), o));
}
