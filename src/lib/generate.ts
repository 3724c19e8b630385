/**
 * New secret values, from Node's CSPRNG only.
 *
 * Defaults (issue "Foundation"): `jwt` 64 random bytes base64url; `api-key` 32 bytes base64url;
 * passwords 32 characters of `[A-Za-z0-9]`, safe in URLs, shells, YAML, docker compose files and
 * SCRAM. A spec with less than 128 bits of entropy is refused.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { RekeyError } from './errors.js';

export const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/**
 * Characters that never appear in a generated value: docker compose interpolates `$`, ends unquoted
 * values at ` #`, and quotes, backslashes, backticks and whitespace break one parser or another.
 */
export const FORBIDDEN_CHARS = `$'"\\#\`= \t\r\n`;

export const MIN_ENTROPY_BITS = 128;

export type GenerateSpec =
  | { kind: 'bytes'; bytes: number }
  | { kind: 'chars'; length: number; alphabet: string; everyClass?: boolean };

/** Bits of entropy a spec yields. */
export function entropyBits(spec: GenerateSpec): number {
  if (spec.kind === 'bytes') return spec.bytes * 8;
  const size = new Set(spec.alphabet).size;
  return size < 2 ? 0 : spec.length * Math.log2(size);
}

/** Throws ERR_SECRET_WEAK / ERR_CONFIG_INVALID when a spec is unsafe; `where` names the secret. */
export function validateSpec(spec: GenerateSpec, where: string): void {
  if (spec.kind === 'chars') {
    const bad = [...new Set(spec.alphabet)].filter(
      (c) => FORBIDDEN_CHARS.includes(c) || c.charCodeAt(0) > 126 || c.charCodeAt(0) < 33,
    );
    if (bad.length > 0) {
      throw new RekeyError(
        'ERR_CONFIG_INVALID',
        `${where}.alphabet: contains characters that break env files or shells (${bad.map((c) => JSON.stringify(c)).join(' ')})`,
        {
          hint: 'Use printable ASCII without $ \' " \\ # ` = and whitespace.',
        },
      );
    }
  }
  const bits = entropyBits(spec);
  if (bits < MIN_ENTROPY_BITS) {
    throw new RekeyError(
      'ERR_SECRET_WEAK',
      `${where}: generated values would have ${Math.floor(bits)} bits of entropy, under the minimum of ${MIN_ENTROPY_BITS}`,
    );
  }
}

/**
 * Generates one value.
 *
 * @example
 * generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC }); // 'q3Vd...' (32 chars)
 * generate({ kind: 'bytes', bytes: 64 }); // base64url, 86 chars
 */
export function generate(spec: GenerateSpec): string {
  if (spec.kind === 'bytes') return randomBytes(spec.bytes).toString('base64url');
  const alphabet = [...new Set(spec.alphabet)];
  for (;;) {
    let out = '';
    for (let i = 0; i < spec.length; i++) out += alphabet[randomInt(alphabet.length)];
    if (!spec.everyClass || hasEveryClass(out, alphabet)) return out;
  }
}

const CLASSES = [/[A-Z]/, /[a-z]/, /[0-9]/, /[^A-Za-z0-9]/];

/** True when `value` has a character of every class (upper, lower, digit, symbol) the alphabet offers. */
function hasEveryClass(value: string, alphabet: string[]): boolean {
  return CLASSES.every((re) => !alphabet.some((c) => re.test(c)) || re.test(value));
}
