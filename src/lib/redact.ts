/**
 * Redaction of secret values from everything rekey prints, stores or passes on.
 *
 * Every secret value rekey learns (old values read from the env file, new values it generates) is
 * registered with {@link redactor}; every sink (stderr, stdout, deploy logs, error messages, the
 * audit log) passes text through {@link Redactor.redact}.
 *
 * What is masked, for a registered value:
 * - the value itself, URL-encoded and JSON-escaped;
 * - its UTF-8 bytes in hex (lower and upper case) and in base64 (standard and URL-safe alphabet,
 *   with or without padding): for base64, the value may sit at any byte offset of a longer encoded
 *   buffer (`user:password` in a Basic auth header), so the part of the encoding that depends on the
 *   value alone is masked, at each of the 3 alignments;
 * - for a value of at least {@link SUBSTRING_MIN_SECRET} characters: any run of at least
 *   {@link SUBSTRING_WINDOW} characters of the value or of any of the forms above (a truncated copy
 *   or a prefix in a log line). The 8-character windows of every form are indexed once (by a rolling
 *   hash), and the text is scanned once, whatever the number of secrets.
 *
 * Short values: values shorter than {@link MIN_REDACT_LENGTH} are not registered (an empty or
 * one-letter value would garble all output; rekey refuses such values as new secrets anyway). A value
 * of {@link MIN_REDACT_LENGTH} to {@link SUBSTRING_MIN_SECRET}` - 1` characters is masked only whole,
 * in each of its forms (an encoded form shorter than {@link MIN_ENCODED_LENGTH} is left out: it would
 * match ordinary text): a short fragment of a short value is too likely to occur by chance.
 */

export const MIN_REDACT_LENGTH = 4;
/** Values at least this long are also masked by any run of {@link SUBSTRING_WINDOW} of their characters. */
export const SUBSTRING_MIN_SECRET = 16;
/** The shortest fragment of a long secret that is masked. */
export const SUBSTRING_WINDOW = 8;
/** Encoded forms (hex, the base64 core) shorter than this are not registered. */
export const MIN_ENCODED_LENGTH = 8;
/**
 * Env keys whose name says they hold a secret (`*PASSWORD*`, `*SECRET*`, `*TOKEN*`, `*KEY*`, any
 * case): their values are masked too, even when rekey does not manage them.
 */
export const SECRET_KEY_NAME = /PASSWORD|SECRET|TOKEN|KEY/i;
/**
 * A value of a key that only names a secret (not a managed one) is masked from this length on: shorter
 * values of such keys are settings (`API_KEY_ENABLED=true`, `TOKEN_TTL=3600`), and masking `1` or
 * `true` everywhere would make output unreadable.
 */
export const MIN_NAMED_SECRET_LENGTH = 8;

// Rolling hash of a window of SUBSTRING_WINDOW UTF-16 code units, modulo 2^32.
const HASH_BASE = 0x01000193;
const HASH_BASE_POW = (() => {
  let p = 1;
  for (let i = 0; i < SUBSTRING_WINDOW; i++) p = Math.imul(p, HASH_BASE);
  return p;
})();

function windowHash(s: string, from: number): number {
  let h = 0;
  for (let j = 0; j < SUBSTRING_WINDOW; j++) h = (Math.imul(h, HASH_BASE) + s.charCodeAt(from + j)) | 0;
  return h;
}

/**
 * The forms a value takes in other systems' output: itself, URL-encoded, JSON-escaped, hex (both
 * cases), and the value-only part of its base64 encoding (both alphabets) at byte offsets 0, 1 and 2.
 *
 * @example
 * encodedForms('correct horse battery'); // ['correct horse battery', 'correct%20horse%20battery', ...]
 */
export function encodedForms(value: string): string[] {
  const forms = new Set<string>();
  for (const f of [value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)]) {
    if (f.length >= MIN_REDACT_LENGTH) forms.add(f);
  }
  const bytes = Buffer.from(value, 'utf8');
  const encoded: string[] = [bytes.toString('hex'), bytes.toString('hex').toUpperCase()];
  for (const offset of [0, 1, 2]) {
    // Base64 character i carries bits [6i, 6i + 6); the value's bits are [8 * offset, 8 * (offset + n)).
    // The characters made of the value's bits alone are the same whatever surrounds the value.
    const b64 = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    const core = b64.slice(Math.ceil((8 * offset) / 6), Math.floor((8 * (offset + bytes.length)) / 6));
    encoded.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  for (const f of encoded) if (f.length >= MIN_ENCODED_LENGTH) forms.add(f);
  return [...forms];
}

export class Redactor {
  /** Whole forms of short values → label (matched by one regular expression). */
  readonly #whole = new Map<string, string>();
  #pattern: RegExp | undefined;
  /** Every window of SUBSTRING_WINDOW characters of every form of a long value → label. */
  readonly #windows = new Map<string, string>();
  readonly #hashes = new Set<number>();
  readonly #values = new Set<string>();

  /**
   * Registers a secret value under a label (the env key) so it is masked as `[REDACTED:LABEL]`, in
   * every form {@link encodedForms} lists and, for a long value, by any run of 8 of its characters.
   *
   * @example
   * redactor.add('POSTGRES_PASSWORD', value);
   * redactor.redact(`login failed for ${value}`); // 'login failed for [REDACTED:POSTGRES_PASSWORD]'
   */
  add(label: string, value: string | undefined): void {
    if (value === undefined || value.length < MIN_REDACT_LENGTH || this.#values.has(value)) return;
    this.#values.add(value);
    const long = value.length >= SUBSTRING_MIN_SECRET;
    for (const form of encodedForms(value)) {
      if (long && form.length >= SUBSTRING_WINDOW) {
        for (let i = 0; i + SUBSTRING_WINDOW <= form.length; i++) {
          const w = form.slice(i, i + SUBSTRING_WINDOW);
          if (!this.#windows.has(w)) this.#windows.set(w, label);
          this.#hashes.add(windowHash(form, i));
        }
      } else if (!this.#whole.has(form)) {
        this.#whole.set(form, label);
        this.#pattern = undefined;
      }
    }
  }

  /**
   * Registers the secret values of an env file: the managed keys' values, and the values of keys whose
   * name says they are secret ({@link SECRET_KEY_NAME}) when at least {@link MIN_NAMED_SECRET_LENGTH}
   * long. Hosts, ports, user names and other settings are not masked.
   *
   * @example
   * redactor.addEnv(envValues(doc), ['REDIS_PASSWORD']); // APP_HOST stays readable
   */
  addEnv(values: Iterable<readonly [string, string]>, managed: Iterable<string> = []): void {
    const keys = new Set(managed);
    for (const [k, v] of values) {
      if (keys.has(k)) this.add(k, v);
      else if (SECRET_KEY_NAME.test(k) && v.length >= MIN_NAMED_SECRET_LENGTH) this.add(k, v);
    }
  }

  /** Masks every registered value, in every form, in `text`. */
  redact(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    const ranges: Array<[number, number, string]> = [];
    if (this.#whole.size > 0) {
      if (this.#pattern === undefined) {
        // Longest first, so a value containing another is masked whole.
        const forms = [...this.#whole.keys()].sort((a, b) => b.length - a.length);
        this.#pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'g');
      }
      for (const m of text.matchAll(this.#pattern)) {
        ranges.push([m.index, m.index + m[0].length, this.#whole.get(m[0]) ?? 'secret']);
      }
    }
    if (this.#windows.size > 0 && text.length >= SUBSTRING_WINDOW) this.#scanWindows(text, ranges);
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0]);
    let out = '';
    let at = 0;
    for (let i = 0; i < ranges.length; ) {
      let [start, end] = ranges[i]!;
      const label = ranges[i]![2];
      for (i++; i < ranges.length && ranges[i]![0] <= end; i++) end = Math.max(end, ranges[i]![1]);
      out += `${text.slice(at, start)}[REDACTED:${label}]`;
      at = end;
    }
    return out + text.slice(at);
  }

  /** One pass over `text`: every run of matching windows (overlapping or touching) is one range. */
  #scanWindows(text: string, ranges: Array<[number, number, string]>): void {
    let h = windowHash(text, 0);
    let runStart = -1;
    let runEnd = -1;
    let runLabel = '';
    for (let i = 0; ; i++) {
      if (this.#hashes.has(h)) {
        const label = this.#windows.get(text.slice(i, i + SUBSTRING_WINDOW));
        if (label !== undefined) {
          if (i <= runEnd) runEnd = i + SUBSTRING_WINDOW;
          else {
            if (runEnd >= 0) ranges.push([runStart, runEnd, runLabel]);
            runStart = i;
            runEnd = i + SUBSTRING_WINDOW;
            runLabel = label;
          }
        }
      }
      const next = i + SUBSTRING_WINDOW;
      if (next >= text.length) break;
      h =
        (Math.imul(h, HASH_BASE) + text.charCodeAt(next) - Math.imul(text.charCodeAt(i), HASH_BASE_POW)) | 0;
    }
    if (runEnd >= 0) ranges.push([runStart, runEnd, runLabel]);
  }

  /** True when `text` contains any registered value (in any form). */
  leaks(text: string): boolean {
    return this.redact(text) !== text;
  }

  /** How many values are registered. */
  get size(): number {
    return this.#values.size;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The process-wide redactor: every value rekey reads or generates is registered here. */
export const redactor = new Redactor();

/** Redacts an unknown thrown value into a single safe line (message only, no stack). */
export function safeMessage(err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  return redactor.redact(raw).split(/\r?\n/)[0] ?? '';
}
