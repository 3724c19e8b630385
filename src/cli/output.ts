/** Data output: `--json` prints exactly one JSON document on stdout; humans get stderr. */
import { redactor } from '../core/redact.js';

let printed = false;

/** Prints one JSON document on stdout (redacted as a last line of defence). */
export function printJson(doc: unknown): void {
  printed = true;
  process.stdout.write(`${redactor.redact(JSON.stringify(doc, null, 2))}\n`);
}

/** Whether a JSON document was already printed (so an error does not print a second one). */
export function jsonWasPrinted(): boolean {
  return printed;
}

/** Prints human lines on stderr. */
export function printLines(lines: readonly string[]): void {
  for (const l of lines) process.stderr.write(`${redactor.redact(l)}\n`);
}
