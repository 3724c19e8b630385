/** Data output: `--json` prints exactly one JSON document on stdout; humans get stderr. */

import { isOutputLine } from '../lib/command.js';
import { redactor } from '../lib/redact.js';

let printed = false;
let verbose = false;

/** `--verbose`: `--json` documents keep the output of failed commands (deploy, rollback) in `details`. */
export function setVerbose(on: boolean): void {
  verbose = on;
}

/** Prints one JSON document on stdout (redacted as a last line of defence). */
export function printJson(doc: unknown): void {
  printed = true;
  const body = verbose ? doc : withoutCommandOutput(doc);
  process.stdout.write(`${redactor.redact(JSON.stringify(body, null, 2))}\n`);
}

/**
 * A copy of `doc` whose `details` lists hold no line of a command's output: a deploy prints what it
 * likes (a secret in a form the redactor cannot know), and a JSON document travels further than a
 * terminal (CI artefacts, tickets). The log file named in the details keeps the output.
 */
function withoutCommandOutput(input: unknown, key?: string): unknown {
  const value =
    input !== null &&
    typeof input === 'object' &&
    typeof (input as { toJSON?: unknown }).toJSON === 'function'
      ? (input as { toJSON: () => unknown }).toJSON()
      : input;
  if (Array.isArray(value)) {
    if (key === 'details' && value.some((d) => typeof d === 'string' && isOutputLine(d))) {
      const kept = value.filter((d) => !(typeof d === 'string' && isOutputLine(d)));
      const left = value.length - kept.length;
      return [
        ...kept,
        `(${left} line${left === 1 ? '' : 's'} of command output left out; --verbose includes them)`,
      ];
    }
    return value.map((v) => withoutCommandOutput(v));
  }
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutCommandOutput(v, k)]));
  }
  return value;
}

/** Whether a JSON document was already printed (so an error does not print a second one). */
export function jsonWasPrinted(): boolean {
  return printed;
}

/** Prints human lines on stderr. */
export function printLines(lines: readonly string[]): void {
  for (const l of lines) process.stderr.write(`${redactor.redact(l)}\n`);
}
