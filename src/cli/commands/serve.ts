/** `rekey serve`: the dashboard on /, its JSON on /api/status and /api/rotations, Prometheus metrics on /metrics. */
import type { Command } from 'commander';
import { DEFAULT_HOST, DEFAULT_PORT } from '../../policy/server-defaults.js';
import type { GlobalOptions } from '../context.js';
import { port } from '../options.js';

export function register(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description(
      'the dashboard on /, /api/status, /api/rotations and Prometheus /metrics (loopback only unless --token-file or TLS)',
    )
    .option('--host <host>', 'address to bind', DEFAULT_HOST)
    .option('--port <port>', 'port to bind (0: any free port)', port, DEFAULT_PORT)
    .option('--token-file <file>', 'require `Authorization: Bearer <token>`, the token read from this file')
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain); needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .action(async (o) => (await import('../policy.js')).serveCommand(globals(), o));
}
