/**
 * The runner's command line. Paths and numbers only: no option takes a secret (argv is visible to
 * every user in `ps`); the workers read every credential from the env file.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ENV_FILE_VARIABLE, envFileFrom } from './config.js';

export const RUNNER_USAGE = `usage: node dist/demo/app/cluster.js --env-file FILE [--state DIR] [--pidfile FILE]
         [--workers N] [--ready-timeout SECONDS] [--drain-timeout SECONDS] [--log-file FILE]
  --env-file       the app's env file (or ${ENV_FILE_VARIABLE}); each new worker reads it afresh
  --state          where app-status.json is written (default: the env file's directory)
  --pidfile        the primary's pid (default: <state>/app.pid)
  --workers        workers serving at once (default 2)
  --ready-timeout  how long a new worker may take to listen and pass its health check (default 30)
  --drain-timeout  a stopping worker's deadline for in-flight requests (default 10)
  --log-file       append every log line there instead of stdout
signals: SIGHUP replaces the workers one by one; SIGTERM or SIGINT drains them and exits 0.`;

export interface RunnerOptions {
  envFile: string;
  stateDir: string;
  pidFile: string;
  workers: number;
  readyTimeoutMs: number;
  drainTimeoutMs: number;
  logFile: string | undefined;
}

/** A bad command line; the message ends with the usage. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * Parses the runner's arguments (paths resolved against the working directory).
 *
 * @example
 * parseRunnerArgs(['--env-file', '.env.production', '--state', 'state'], process.env);
 */
export function parseRunnerArgs(argv: readonly string[], env: NodeJS.ProcessEnv): RunnerOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${RUNNER_USAGE}`);
  }
  const envFile = values['env-file'] ?? envFileFrom([], env);
  if (envFile === undefined || envFile === '') {
    throw new UsageError(`--env-file FILE (or ${ENV_FILE_VARIABLE}) is required\n${RUNNER_USAGE}`);
  }
  const stateDir = path.resolve(values.state ?? path.dirname(path.resolve(envFile)));
  const number = (name: string, raw: string | undefined, fallback: number, min: number, max: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
      throw new UsageError(`--${name}: a number from ${min} to ${max}\n${RUNNER_USAGE}`);
    }
    return n;
  };
  const workers = number('workers', values.workers, 2, 1, 64);
  if (!Number.isInteger(workers)) throw new UsageError(`--workers: a whole number\n${RUNNER_USAGE}`);
  return {
    envFile: path.resolve(envFile),
    stateDir,
    pidFile: path.resolve(values.pidfile ?? path.join(stateDir, 'app.pid')),
    workers,
    readyTimeoutMs: Math.round(number('ready-timeout', values['ready-timeout'], 30, 0.1, 3600) * 1000),
    drainTimeoutMs: Math.round(number('drain-timeout', values['drain-timeout'], 10, 0, 3600) * 1000),
    logFile: values['log-file'] === undefined ? undefined : path.resolve(values['log-file']),
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      'env-file': { type: 'string' },
      state: { type: 'string' },
      pidfile: { type: 'string' },
      workers: { type: 'string' },
      'ready-timeout': { type: 'string' },
      'drain-timeout': { type: 'string' },
      'log-file': { type: 'string' },
    },
  });
}
