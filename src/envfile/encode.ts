/**
 * Writing a value back: the token that makes compose (and {@link parseEnv}) read exactly that value.
 */
import type { EnvEntry } from './parse.js';

/** Characters that need no quotes anywhere: compose, dotenv and shells read them alike. */
const PLAIN = /^[A-Za-z0-9_\-.:/+@%,]*$/;

/** Single quotes are literal in compose, except `\'` and a backslash just before the closing quote. */
function fitsSingle(value: string): boolean {
  return !/['\n\r]/.test(value) && !value.endsWith('\\');
}

/** Double quotes with the escapes compose decodes; `$` is left alone (compose would interpolate it). */
function doubleQuote(value: string): string {
  const escaped = value.replace(/[\\"\n\r\t]/g, (c) => {
    switch (c) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\${c}`;
    }
  });
  return `"${escaped}"`;
}

/**
 * The safe token for `value`. Keeps `preferred` (the entry's existing style) when the value is safe in
 * it; otherwise unquoted when the value is only `[A-Za-z0-9_-.:/+@%,]`, else single quotes when it has
 * no `'`, no line break and no trailing backslash, else double quotes with escapes. Backticks are never
 * written (compose reads them as part of the value). A value with `$` is single-quoted where possible,
 * the only form compose does not interpolate.
 *
 * @example
 * encodeValue('Zx9_q'); // 'Zx9_q'
 * encodeValue('a b#c'); // "'a b#c'"
 * encodeValue("it's\nok"); // '"it\'s\\nok"'
 * encodeValue('Zx9_q', '"'); // '"Zx9_q"'
 */
export function encodeValue(value: string, preferred?: EnvEntry['quote']): string {
  if (preferred === '' && PLAIN.test(value)) return value;
  if (preferred === "'" && fitsSingle(value)) return `'${value}'`;
  if (preferred === '"' && !value.includes('$')) return doubleQuote(value);
  if (PLAIN.test(value)) return value;
  if (fitsSingle(value)) return `'${value}'`;
  return doubleQuote(value);
}

/** A quoted token for `value` (single quotes when they fit, else double), for places a bare one cannot go. */
export function encodeQuoted(value: string, preferred?: EnvEntry['quote']): string {
  if (preferred === '"' && !value.includes('$')) return doubleQuote(value);
  return fitsSingle(value) ? `'${value}'` : doubleQuote(value);
}
