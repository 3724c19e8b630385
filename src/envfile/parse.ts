/**
 * Format-preserving env file parser. The document keeps the exact text; every entry records where its
 * raw value token sits in it, so an edit can replace those bytes and nothing else.
 *
 * The reference is docker compose's own parser (compose-spec/compose-go v2, `dotenv/parser.go`): compose
 * is what hands these values to the containers, so where Node's dotenv reads a file differently, rekey
 * reads it as compose does. Where compose accepts a construct that rekey could misread or that has no
 * single meaning, rekey refuses the file (ERR_ENVFILE_PARSE) instead of guessing. Choices, construct
 * by construct (README.md has the same as a table):
 *
 * - UTF-8 BOM at the start: skipped (both).
 * - Lines end at LF. A CR is whitespace (compose), so CRLF files parse like LF files; dotenv first turns
 *   every CRLF and lone CR into LF, compose does not, and neither does rekey: a lone CR stays in a
 *   value, and a multi-line quoted value of a CRLF file keeps its CRLFs.
 * - Blank lines, and lines whose first non-blank character is `#`, are skipped (both).
 * - `export ` before the key is dropped (both). `export` alone is a key.
 * - Keys: letters and digits of any script, `_ . - [ ]` (compose). dotenv takes `[A-Za-z0-9_.-]`. A
 *   space inside a key is an error (compose).
 * - Blanks around `=` are ignored (both). `KEY: value` (yaml style; compose and dotenv accept it) and a
 *   line with a key and no `=` (compose: inherit the variable from the shell) are refused: rekey needs
 *   `KEY=value`.
 * - Unquoted value: the rest of the line, leading blanks dropped, cut at the first ` #` (a space then
 *   `#`), trailing whitespace trimmed (compose). dotenv cuts at any `#`. So `a#b` and `a<TAB>#b` keep
 *   their `#`, and `KEY= # note` is the value `# note` for compose (empty for dotenv).
 * - Single quotes: literal, may span lines; `\'` is an escaped quote (compose; dotenv keeps the
 *   backslash); every other backslash stays.
 * - Double quotes: may span lines; escapes `\a \b \f \n \r \t \v \\ \"`, `\0` plus three octal digits,
 *   and `\$`, which becomes `$$` (compose's own pre-interpolation form of a literal `$`); any other
 *   backslash stays (compose). dotenv decodes only `\n` and `\r`.
 * - Backticks are not quotes for compose: the value keeps them (dotenv strips them). The entry's
 *   `quote` is '`' when the token is wrapped in them, so a caller can warn; an edit never writes them.
 * - After a closing quote only blanks and a `#` comment may follow (compose would read more text as a
 *   further statement; dotenv ignores it): anything else is an error.
 * - An unterminated quote is an error (compose); dotenv reads the quote into an unquoted value.
 * - `$NAME` / `${NAME}` are not interpolated: the value is what compose has before interpolation.
 * - A key set twice: the last one wins (both); {@link assertUnique} refuses it for keys being rotated.
 *
 * Errors name the source and the line, never a character of its content (a line may hold a secret).
 */
import { RekeyError } from '../lib/errors.js';

/** One `KEY=value` statement. */
export interface EnvEntry {
  key: string;
  /** The decoded value (compose's reading, before `$` interpolation). */
  value: string;
  /** 1-based line on which the entry starts. */
  line: number;
  /** Offset in {@link EnvDocument.text} of the raw value token, quotes included. */
  valueStart: number;
  /** Offset just after the raw value token (before any inline comment or trailing blanks). */
  valueEnd: number;
  quote: '' | "'" | '"' | '`';
}

/** A parsed env file: its exact text and the entries found in it, in order. */
export interface EnvDocument {
  text: string;
  entries: EnvEntry[];
  /** The line ending the file uses (its first one outside a value; LF when it has none). */
  eol: '\n' | '\r\n';
  /** True when the text starts with a UTF-8 byte order mark. */
  bom: boolean;
}

/** Blanks inside a line (compose's `isSpace`): never a line feed. */
const BLANK = /^[\t\v\f\r \u0085\u00a0]$/;
/** Go's `unicode.IsSpace`, which compose uses between statements and to trim values. */
const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
const KEY_CHAR = /^[\p{L}\p{N}_.\-[\]]$/u;
const VALID_KEY = /^[\p{L}\p{N}_.\-[\]]+$/u;

const isBlank = (c: string | undefined): boolean => c !== undefined && BLANK.test(c);
const isSpace = (c: string | undefined): boolean => c !== undefined && SPACE.test(c);

/** True when `s` is only whitespace as compose counts it (Go's `unicode.IsSpace`). */
export function isAllSpace(s: string): boolean {
  for (const c of s) if (!isSpace(c)) return false;
  return true;
}

/**
 * True when `key` is a name compose accepts as a variable (and rekey can write).
 *
 * @example
 * isValidKey('JWT_SECRET'); // true
 * isValidKey('MY KEY'); // false
 */
export function isValidKey(key: string): boolean {
  return VALID_KEY.test(key);
}

/**
 * Parses env file text. Throws ERR_ENVFILE_PARSE `<source> line N: <reason>` on a line that cannot be
 * read; the message never quotes the line.
 *
 * @example
 * const doc = parseEnv('# prod\nexport DB_PASSWORD="s3cr#t" # rotated\n', '.env.production');
 * doc.entries[0]; // { key: 'DB_PASSWORD', value: 's3cr#t', line: 2, quote: '"', ... }
 */
export function parseEnv(text: string, source = 'env file'): EnvDocument {
  const bom = text.charCodeAt(0) === 0xfeff;
  const entries = new Parser(text, source, bom ? 1 : 0).entries();
  return { text, entries, eol: detectEol(text, entries), bom };
}

/**
 * The values as compose sees them: the last occurrence of a key wins.
 *
 * @example
 * envValues(parseEnv('A=1\nA=2\n')).get('A'); // '2'
 */
export function envValues(doc: EnvDocument): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of doc.entries) map.set(e.key, e.value);
  return map;
}

/**
 * Throws ERR_ENVFILE_DUPLICATE when one of `keys` is set more than once: rotating it would leave the
 * other line with a stale secret. The message names the key and its lines, never a value.
 *
 * @example
 * assertUnique(doc, ['JWT_SECRET', 'REDIS_PASSWORD'], '.env.production');
 * // RekeyError: .env.production: JWT_SECRET is set more than once (lines 3 and 9)
 */
export function assertUnique(doc: EnvDocument, keys: Iterable<string>, source = 'env file'): void {
  for (const key of new Set(keys)) {
    const lines = doc.entries.filter((e) => e.key === key).map((e) => e.line);
    if (lines.length > 1) {
      const last = lines.pop();
      throw new RekeyError(
        'ERR_ENVFILE_DUPLICATE',
        `${source}: ${key} is set more than once (lines ${lines.join(', ')} and ${last})`,
      );
    }
  }
}

/** The file's line ending: that of its first line end outside a value (a pasted certificate may differ). */
function detectEol(text: string, entries: EnvEntry[]): '\n' | '\r\n' {
  let i = 0;
  for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', nl + 1)) {
    while (i < entries.length && (entries[i] as EnvEntry).valueEnd <= nl) i++;
    const e = entries[i];
    if (e !== undefined && e.valueStart < nl) continue; // inside a multi-line value
    return nl > 0 && text[nl - 1] === '\r' ? '\r\n' : '\n';
  }
  return '\n';
}

/** A cursor over the text, statement by statement, as compose's parser walks it. */
class Parser {
  #pos: number;
  #line = 1;
  readonly #text: string;
  readonly #source: string;

  constructor(text: string, source: string, start: number) {
    this.#text = text;
    this.#source = source;
    this.#pos = start;
  }

  entries(): EnvEntry[] {
    const text = this.#text;
    const out: EnvEntry[] = [];
    for (;;) {
      while (this.#pos < text.length && isSpace(text[this.#pos])) this.#advance();
      if (this.#pos >= text.length) return out;
      if (text[this.#pos] === '#') {
        const nl = text.indexOf('\n', this.#pos);
        if (nl < 0) return out;
        this.#pos = nl;
        continue;
      }
      out.push(this.#statement());
    }
  }

  /** Moves one character on, counting lines. */
  #advance(): void {
    if (this.#text[this.#pos] === '\n') this.#line++;
    this.#pos++;
  }

  #fail(line: number, reason: string): never {
    throw new RekeyError('ERR_ENVFILE_PARSE', `${this.#source} line ${line}: ${reason}`);
  }

  /** Length of the key character at `i` (a surrogate pair counts 2), or 0 when there is none. */
  #keyCharAt(i: number): number {
    const cp = this.#text.codePointAt(i);
    if (cp === undefined) return 0;
    const ch = String.fromCodePoint(cp);
    return KEY_CHAR.test(ch) ? ch.length : 0;
  }

  #statement(): EnvEntry {
    const text = this.#text;
    const line = this.#line;
    let p = this.#pos;
    if (text.startsWith('export', p) && isBlank(text[p + 6])) {
      let q = p + 6;
      while (isBlank(text[q])) q++;
      if (this.#keyCharAt(q) > 0) p = q; // else `export` is the key itself
    }
    const keyStart = p;
    for (let n = this.#keyCharAt(p); n > 0; n = this.#keyCharAt(p)) p += n;
    const key = text.slice(keyStart, p);
    let q = p;
    while (isBlank(text[q])) q++;
    if (text[q] !== '=') this.#failKey(line, key, p, q);
    if (key === '') this.#fail(line, "no key before '='");
    q++;
    // Blanks after `=` are not part of the value; a CR ending the line is left to the line.
    while (isBlank(text[q]) && !(text[q] === '\r' && (q + 1 === text.length || text[q + 1] === '\n'))) q++;
    this.#pos = q;
    const c = text[q];
    if (c === '"' || c === "'") return this.#quoted(key, line, c);
    return this.#unquoted(key, line);
  }

  /** Explains why the text after a key is not `=`. */
  #failKey(line: number, key: string, keyEnd: number, q: number): never {
    const c = this.#text[q];
    if (c === undefined || c === '\n') this.#fail(line, "no '=' (expected KEY=value or a # comment)");
    if (key !== '' && q > keyEnd && this.#keyCharAt(q) > 0) this.#fail(line, 'a key cannot contain a space');
    if (key !== '' && c === ':') this.#fail(line, "expected '=' after the key (KEY: value is not supported)");
    this.#fail(line, 'invalid character in the key (keys are letters, digits, _ . - [ ])');
  }

  #unquoted(key: string, line: number): EnvEntry {
    const text = this.#text;
    const start = this.#pos;
    const nl = text.indexOf('\n', start);
    const lineEnd = nl < 0 ? text.length : nl;
    const hash = text.indexOf(' #', start);
    let end = hash >= 0 && hash < lineEnd ? hash : lineEnd;
    while (end > start && isSpace(text[end - 1])) end--;
    const value = text.slice(start, end);
    const quote = value.length >= 2 && value.startsWith('`') && value.endsWith('`') ? '`' : '';
    this.#pos = lineEnd;
    return { key, value, line, valueStart: start, valueEnd: end, quote };
  }

  #quoted(key: string, line: number, quote: '"' | "'"): EnvEntry {
    const text = this.#text;
    const start = this.#pos;
    // Compose's scan: a backslash before the quote character drops out; before anything else it stays.
    let raw = '';
    let escaped = false;
    let i = start + 1;
    for (; i < text.length; i++) {
      const ch = text[i] as string;
      if (ch === '\n') this.#line++;
      if (escaped) {
        escaped = false;
        raw += ch === quote ? ch : `\\${ch}`;
      } else if (ch === '\\') {
        escaped = true;
      } else if (ch === quote) {
        break;
      } else {
        raw += ch;
      }
    }
    if (i >= text.length) this.#fail(line, `unterminated ${quote === '"' ? 'double' : 'single'} quote`);
    const end = i + 1;
    let j = end;
    while (j < text.length && text[j] !== '\n' && isSpace(text[j])) j++;
    if (j < text.length && text[j] !== '\n' && text[j] !== '#') {
      this.#fail(this.#line, 'unexpected text after the closing quote (only a # comment may follow)');
    }
    this.#pos = j;
    const value = quote === '"' ? expandEscapes(raw) : raw;
    return { key, value, line, valueStart: start, valueEnd: end, quote };
  }
}

const ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
};

/** Compose's `expandEscapes` for double-quoted values (its regex, then Go's `strconv.UnquoteChar`). */
function expandEscapes(raw: string): string {
  return raw.replace(/\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})/g, (m) => {
    if (m === '\\$') return '$$';
    if (m.startsWith('\\0')) {
      // `\0123` is read as Go's `\123`: exactly three octal digits up to 0377, else left as `\123`.
      const digits = m.slice(2);
      if (/^[0-7]{3}$/.test(digits) && Number.parseInt(digits, 8) <= 0o377) {
        return String.fromCharCode(Number.parseInt(digits, 8));
      }
      return `\\${digits}`;
    }
    return ESCAPES[m.slice(1)] ?? m;
  });
}
