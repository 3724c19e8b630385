/**
 * Human output. Everything goes to stderr (stdout is kept for data and `--json`), through the
 * redactor, with colour only on a TTY and never under NO_COLOR.
 */
import { redactor } from './redact.js';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** A line that only matters when following closely (REKEY_DEBUG=1). */
  debug(message: string): void;
}

export function useColor(stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb';
}

const paint = (code: string) => (s: string) => (useColor() ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = {
  red: paint('31'),
  green: paint('32'),
  yellow: paint('33'),
  dim: paint('2'),
  bold: paint('1'),
};

/** Writes one redacted line to stderr. */
export function writeErr(line: string): void {
  process.stderr.write(`${redactor.redact(line)}\n`);
}

export const log: Logger = {
  info: (m) => writeErr(m),
  warn: (m) => writeErr(`${color.yellow('warning')} ${m}`),
  error: (m) => writeErr(`${color.red('error')} ${m}`),
  debug: (m) => {
    if (process.env.REKEY_DEBUG === '1') writeErr(color.dim(m));
  },
};

/** A logger that drops everything (tests, --quiet). */
export const silentLogger: Logger = { info() {}, warn() {}, error() {}, debug() {} };
