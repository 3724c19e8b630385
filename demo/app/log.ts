/**
 * The demo app's log: one line per event, `<ISO time> <component>[<pid>] <message>`, to stdout (the
 * runner sends it to its log file). Every line passes through a redactor that knows the secret values
 * of the env file, so a driver error quoting a password cannot leak it.
 */
import { Redactor } from '../../src/lib/redact.js';
import type { AppConfig } from './config.js';

export interface AppLog {
  info(message: string): void;
  error(message: string): void;
  /** Registers the secret values of a configuration for masking. */
  protect(config: AppConfig): void;
  /** Masks the registered values in `text` (for text leaving the process another way). */
  redact(text: string): string;
}

/**
 * A logger for `component` handing each finished line to `out` (stdout by default).
 *
 * @example
 * const log = createLog('app');
 * log.protect(config);
 * log.info('listening on http://127.0.0.1:8000');
 */
export function createLog(
  component: string,
  out: (line: string) => void = (line) => process.stdout.write(line),
): AppLog {
  const redactor = new Redactor();
  const write = (level: string, message: string) => {
    const line = redactor.redact(message).replace(/\r?\n/g, ' | ');
    out(`${new Date().toISOString()} ${component}[${process.pid}] ${level}${line}\n`);
  };
  return {
    redact: (text) => redactor.redact(text),
    info: (m) => write('', m),
    error: (m) => write('error: ', m),
    protect(config) {
      redactor.add('POSTGRES_PASSWORD', config.postgres.password);
      redactor.add('REDIS_PASSWORD', config.redis.password);
      redactor.add('JWT_SECRET', config.jwt.current);
      redactor.add('JWT_SECRET_PREVIOUS', config.jwt.previous);
      redactor.add('API_SECRET_KEY', config.apiKey.current);
      redactor.add('API_SECRET_KEY_PREVIOUS', config.apiKey.previous);
    },
  };
}

/** A logger that drops everything (tests). */
export const silentLog: AppLog = { info() {}, error() {}, protect() {}, redact: (text) => text };

/**
 * One line describing a thrown value: its message (or code), never a stack.
 *
 * @example
 * log.error(`health check failed: ${describeError(err)}`);
 */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const message = err.message || code || err.name;
    return message.split(/\r?\n/)[0] ?? message;
  }
  return String(err);
}
