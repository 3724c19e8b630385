/**
 * One app process: what the runner's primary (cluster.ts) forks, and what runs on its own with
 *
 *   node dist/demo/app/worker.js --env-file .env.production     (or REKEY_DEMO_ENV_FILE=...)
 *
 * It reads the env file once, connects, and only starts listening once its own health check passes
 * (a process with wrong credentials never takes traffic); then it tells the primary 'ready'.
 * SIGTERM or SIGINT (or losing the primary) drains it: stop accepting, finish in-flight requests
 * until the deadline, close the pools, exit 0. Exit 2: the configuration cannot be used, or
 * PostgreSQL or Redis kept refusing its credentials (it gives up at once rather than wait for the
 * primary's timeout).
 */
import { envFileFrom, loadConfig } from './config.js';
import { WORKER_ENV, type WorkerMessage } from './ipc.js';
import { createLog, describeError } from './log.js';
import { CredentialsRefused, createApp, DRAIN_TIMEOUT_MS } from './server.js';

const generation = process.env[WORKER_ENV.generation];
const log = createLog(generation === undefined ? 'app' : `app#${generation}`);

function tell(message: WorkerMessage): void {
  if (process.send !== undefined && process.connected) process.send(message);
}

function fatal(message: string): never {
  const error = log.redact(message);
  log.error(error);
  tell({ type: 'rekey-demo-app:fatal', error });
  process.exit(2);
}

async function main(): Promise<void> {
  const envFile = envFileFrom(process.argv.slice(2), process.env);
  if (envFile === undefined) fatal(`no env file: pass --env-file PATH or set ${WORKER_ENV.envFile}`);
  const config = await loadConfig(envFile).catch((err: unknown) => fatal(describeError(err)));
  const drainSetting = Number(process.env[WORKER_ENV.drainTimeoutMs] ?? Number.NaN);
  const drainMs = Number.isFinite(drainSetting) && drainSetting >= 0 ? drainSetting : DRAIN_TIMEOUT_MS;
  const app = createApp(config, log);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`${why}: draining (${app.inFlight()} in flight, deadline ${drainMs} ms)`);
    void app.close(drainMs).then(({ forced }) => {
      log.info(forced ? 'stopped (deadline reached)' : 'stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('primary gone'));

  const healthy = await app
    .untilHealthy(() => stopping)
    .catch((err: unknown) => {
      if (err instanceof CredentialsRefused) fatal(err.message);
      throw err;
    });
  if (!healthy) return;
  const { url } = await app.listen().catch((err: unknown) => fatal(`cannot listen: ${describeError(err)}`));
  tell({ type: 'rekey-demo-app:ready', url });
}

main().catch((err: unknown) => fatal(`start failed: ${describeError(err)}`));
