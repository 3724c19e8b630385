/**
 * The Grafana stand-in as a process, for the demo:
 *
 *   GF_SECURITY_ADMIN_PASSWORD=... node dist/demo/grafana/main.js --port 3000 --data /tmp/g/grafana.json [--strong-policy]
 *
 * Like Grafana, the admin login and password come from `GF_SECURITY_ADMIN_USER` /
 * `GF_SECURITY_ADMIN_PASSWORD` (defaults admin/admin) and are applied only when the data file does
 * not exist yet; a password is never taken from the command line (argv is visible to every user in
 * `ps`). Prints `listening on http://HOST:PORT` to stderr; SIGTERM or SIGINT stops it cleanly.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { type GrafanaStandInOptions, startGrafanaStandIn } from './standin.js';

const USAGE =
  'usage: main.js --data FILE [--port N] [--host ADDR] [--strong-policy] [--wrong-old-password-status 400|401]\n' +
  'The initial admin password is read from GF_SECURITY_ADMIN_PASSWORD (first start only).';

/**
 * Turns command-line arguments and the environment into stand-in options; throws with a usage
 * message on anything unexpected (a `--password` option included: it does not exist on purpose).
 *
 * @example
 * parseCli(['--port', '3000', '--data', 'g.json'], { GF_SECURITY_ADMIN_PASSWORD: 'pw' });
 */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): GrafanaStandInOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${USAGE}`);
  }
  if (values.data === undefined || values.data === '') throw new Error(`--data FILE is required\n${USAGE}`);
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: not a port number\n${USAGE}`);
  const status = values['wrong-old-password-status'] ?? '400';
  if (status !== '400' && status !== '401')
    throw new Error(`--wrong-old-password-status: 400 or 401\n${USAGE}`);
  const options: GrafanaStandInOptions = {
    host: values.host ?? '127.0.0.1',
    port,
    dataFile: values.data,
    strongPolicy: values['strong-policy'] === true,
    wrongOldPasswordStatus: status === '401' ? 401 : 400,
  };
  if (env.GF_SECURITY_ADMIN_USER !== undefined && env.GF_SECURITY_ADMIN_USER !== '') {
    options.adminUser = env.GF_SECURITY_ADMIN_USER;
  }
  if (env.GF_SECURITY_ADMIN_PASSWORD !== undefined) options.initialPassword = env.GF_SECURITY_ADMIN_PASSWORD;
  return options;
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'strong-policy': { type: 'boolean' },
      'wrong-old-password-status': { type: 'string' },
    },
  });
}

/**
 * Runs the stand-in until SIGTERM or SIGINT.
 *
 * @example
 * await main(process.argv.slice(2), process.env);
 */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  let options: GrafanaStandInOptions;
  try {
    options = parseCli(argv, env);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const log = (line: string) => process.stderr.write(`grafana-standin: ${line}\n`);
  const grafana = await startGrafanaStandIn({ ...options, log });
  process.stderr.write(`listening on ${grafana.url}\n`);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log(`${signal}: shutting down`);
    grafana.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2), process.env).catch((e: unknown) => {
    process.stderr.write(`grafana-standin: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
