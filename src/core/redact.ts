/**
 * Redaction of secret values from everything rekey prints, stores or passes on.
 *
 * Every secret value rekey learns (old values read from the env file, new values it generates) is
 * registered with {@link redactor}; every sink (stderr, stdout, deploy logs, error messages, the
 * audit log) passes text through {@link Redactor.redact}. Values shorter than
 * {@link MIN_REDACT_LENGTH} are not registered (an empty or one-letter value would garble all output);
 * such values are refused as new secrets anyway.
 */

export const MIN_REDACT_LENGTH = 4;

export class Redactor {
  readonly #values = new Map<string, string>();
  #pattern: RegExp | undefined;

  /**
   * Registers a secret value under a label (the env key) so it is masked as `[REDACTED:LABEL]`.
   * Also registers the forms a value commonly takes in other systems' messages (URL-encoded).
   *
   * @example
   * redactor.add('POSTGRES_PASSWORD', value);
   * redactor.redact(`login failed for ${value}`); // 'login failed for [REDACTED:POSTGRES_PASSWORD]'
   */
  add(label: string, value: string | undefined): void {
    if (value === undefined || value.length < MIN_REDACT_LENGTH) return;
    for (const form of new Set([value, encodeURIComponent(value), JSON.stringify(value).slice(1, -1)])) {
      if (!this.#values.has(form)) {
        this.#values.set(form, label);
        this.#pattern = undefined;
      }
    }
  }

  /** Masks every registered value in `text`. */
  redact(text: string): string {
    if (this.#values.size === 0 || text.length === 0) return text;
    if (this.#pattern === undefined) {
      // Longest first, so a value containing another is masked whole.
      const forms = [...this.#values.keys()].sort((a, b) => b.length - a.length);
      this.#pattern = new RegExp(forms.map(escapeRegExp).join('|'), 'g');
    }
    return text.replace(this.#pattern, (m) => `[REDACTED:${this.#values.get(m) ?? 'secret'}]`);
  }

  /** True when `text` contains any registered value. */
  leaks(text: string): boolean {
    return this.redact(text) !== text;
  }

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
