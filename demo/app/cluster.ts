/**
 * The zero-downtime runner of the demo app (what `scripts/deploy.sh` starts):
 *
 *   node dist/demo/app/cluster.js --env-file .env.production --pidfile state/app.pid --state state
 *
 * Node 20 cannot share a port between independent processes, so this is a `node:cluster` primary
 * holding the port and forking N workers (worker.ts) that serve it.
 * - SIGHUP: replace the workers one by one. Each new worker reads the env file afresh; once it is
 *   listening and its own health check passed, one old worker is drained (SIGTERM: it finishes its
 *   in-flight requests) and the next is replaced. A new worker that is not healthy within
 *   --ready-timeout is stopped and the old ones keep serving; `lastReload` in
 *   `<state>/app-status.json` says which happened (status.ts).
 * - SIGTERM / SIGINT: drain every worker, remove the pidfile, exit 0.
 * Exit 1: the first generation never became healthy. Exit 2: bad arguments, or already running.
 * Nothing here reads a secret; the log (stdout, or --log-file) carries none.
 */
import cluster from 'node:cluster';
import { closeSync, openSync, writeSync } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type AppLog, createLog, describeError } from './log.js';
import { claimPidfile, releasePidfile } from './pidfile.js';
import { parseRunnerArgs, type RunnerOptions, UsageError } from './runner-args.js';
import { statusWriter } from './status.js';
import { Supervisor } from './supervisor.js';

const WORKER_SCRIPT = fileURLToPath(new URL('./worker.js', import.meta.url));

/** Opens the log file (append, 0600), or keeps stdout. */
function openLog(options: RunnerOptions): { log: AppLog; fd: number | undefined } {
  if (options.logFile === undefined) return { log: createLog('runner'), fd: undefined };
  const fd = openSync(options.logFile, 'a', 0o600);
  return { log: createLog('runner', (line) => writeSync(fd, line)), fd };
}

/**
 * Signals arrive from the first instant (a deploy may see the pidfile before the workers exist):
 * handlers are installed at once and act once the supervisor runs. A SIGHUP before the first
 * workers are forked needs nothing: they read the env file as it is then.
 */
const signals = {
  stop: undefined as NodeJS.Signals | undefined,
  onStop: (_signal: NodeJS.Signals): void => {},
  onReload: (): void => {},
};
function installSignalHandlers(): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      signals.stop ??= signal;
      signals.onStop(signal);
    });
  }
  process.on('SIGHUP', () => signals.onReload());
}

async function run(options: RunnerOptions): Promise<number> {
  await access(options.envFile).catch(() => {
    throw new UsageError(`env file not found or not readable: ${options.envFile}`);
  });
  await mkdir(options.stateDir, { recursive: true, mode: 0o700 });
  await claimPidfile(options.pidFile).catch((err: unknown) => {
    throw new UsageError(describeError(err));
  });
  const { log, fd } = openLog(options);
  cluster.setupPrimary({
    exec: WORKER_SCRIPT,
    args: [],
    ...(fd === undefined ? {} : { stdio: ['ignore', fd, fd, 'ipc'] }),
  });

  const status = statusWriter(options.stateDir, () => supervisor.snapshot());
  const supervisor = new Supervisor({
    workers: options.workers,
    envFile: options.envFile,
    readyTimeoutMs: options.readyTimeoutMs,
    drainTimeoutMs: options.drainTimeoutMs,
    log,
    onChange: () => status.changed(),
  });

  let exiting: Promise<number> | undefined;
  const shutdown = (why: string, code: number): Promise<number> => {
    exiting ??= (async () => {
      log.info(`${why}: stopping every worker`);
      await supervisor.stop();
      status.changed();
      await status.flush().catch((err: unknown) => log.error(`status file: ${describeError(err)}`));
      await releasePidfile(options.pidFile);
      log.info('stopped');
      if (fd !== undefined) closeSync(fd);
      return code;
    })();
    return exiting;
  };
  const stopped = new Promise<number>((resolve) => {
    signals.onStop = (signal) => void shutdown(signal, 0).then(resolve);
  });
  signals.onReload = () => {
    log.info('SIGHUP: reload requested');
    void supervisor.reload();
  };
  if (signals.stop !== undefined) return shutdown(signals.stop, 0);

  log.info(`runner started (pid ${process.pid}, ${options.workers} workers, env file ${options.envFile})`);
  if (!(await supervisor.start())) {
    return shutdown('the first generation did not become healthy', 1);
  }
  return stopped;
}

if (cluster.isPrimary) {
  installSignalHandlers();
  let options: RunnerOptions;
  try {
    options = parseRunnerArgs(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  run(options).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${err instanceof UsageError ? err.message : describeError(err)}\n`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
