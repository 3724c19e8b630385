/**
 * Runs one stand-in (for tests and the demo) as its own process, so a rotation can be killed without
 * killing the service it talks to:
 *
 *   node dist/demo/stand-ins/main.js vault-kv --token-file FILE [--port N] [--namespace NS]...
 *   node dist/demo/stand-ins/main.js aws-ssm|aws-secretsmanager [--port N] [--region R]
 *   node dist/demo/stand-ins/main.js kubernetes [--port N] [--token-file FILE] [--tick-ms N]
 *
 * Prints one JSON line on stdout once listening — `{"service":"vault-kv","url":"http://127.0.0.1:N"}`
 * — and serves until SIGTERM or SIGINT. Faults and the request log are driven through the control
 * API (demo/stand-ins/harness.ts). The Vault token is read from a file, never from argv.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RunningStandIn } from './harness.js';
import { startKubernetesStandIn } from './kubernetes.js';
import { startSecretsManagerStandIn } from './secrets-manager.js';
import { startSsmStandIn } from './ssm.js';
import { startVaultStandIn } from './vault-kv.js';

function usage(message: string): never {
  process.stderr.write(
    `stand-in: ${message}\nusage: main.js vault-kv|aws-ssm|aws-secretsmanager|kubernetes [--port N] [--token-file FILE] [--region R] [--tick-ms N]\n`,
  );
  process.exit(2);
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      'token-file': { type: 'string' },
      region: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      'tick-ms': { type: 'string' },
    },
  });
  const service = positionals[0];
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage('--port must be a port number');
  let running: RunningStandIn;
  switch (service) {
    case 'vault-kv': {
      if (values['token-file'] === undefined)
        usage('vault-kv needs --token-file (a file holding the root token)');
      const token = readFileSync(values['token-file'], 'utf8').trim();
      if (token === '') usage('the token file is empty');
      const namespaces = values.namespace ?? [];
      running = await startVaultStandIn({
        port,
        tokens: { [token]: 'root' },
        namespaces,
        mounts: [{ path: 'secret' }, ...namespaces.map((namespace) => ({ path: 'secret', namespace }))],
      });
      break;
    }
    case 'aws-ssm':
      running = await startSsmStandIn({
        port,
        ...(values.region === undefined ? {} : { region: values.region }),
      });
      break;
    case 'aws-secretsmanager':
      running = await startSecretsManagerStandIn({
        port,
        ...(values.region === undefined ? {} : { region: values.region }),
      });
      break;
    case 'kubernetes': {
      const token =
        values['token-file'] === undefined ? undefined : readFileSync(values['token-file'], 'utf8').trim();
      const tickMs = values['tick-ms'] === undefined ? undefined : Number(values['tick-ms']);
      if (tickMs !== undefined && !(Number.isInteger(tickMs) && tickMs > 0))
        usage('--tick-ms must be a positive integer');
      running = await startKubernetesStandIn({
        port,
        ...(token === undefined || token === '' ? {} : { token }),
        ...(tickMs === undefined ? {} : { tickMs }),
      });
      break;
    }
    default:
      usage(`unknown stand-in ${JSON.stringify(service ?? '')}`);
  }
  process.stdout.write(`${JSON.stringify({ service, url: running.url })}\n`);
  const stop = () => {
    void running.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

void main();
