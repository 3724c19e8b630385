/**
 * Password hashing as Grafana stores it (`util.EncodePassword`, grafana/grafana `pkg/util/encoding.go`):
 * PBKDF2-HMAC-SHA256 over the password with a per-user random salt of 10 characters, 10,000
 * iterations, 50 bytes, hex-encoded. Only the hash and the salt are ever stored.
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const pbkdf2Async = promisify(pbkdf2);

export const HASH_ITERATIONS = 10_000;
export const HASH_BYTES = 50;
export const SALT_LENGTH = 10;

const ALPHANUM = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * A random alphanumeric string, like Grafana's `util.GetRandomString` (used for salts and uids).
 *
 * @example
 * randomString(10); // 'q3ZkP0aLm9'
 */
export function randomString(length: number): string {
  // 62 * 4 = 248: rejecting bytes >= 248 keeps every character equally likely.
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHANUM[byte % 62];
    }
  }
  return out;
}

/**
 * Hashes `password` with `salt` the way Grafana does; returns lower-case hex.
 *
 * @example
 * const hash = await hashPassword('s3cret', 'pepper1234');
 */
export async function hashPassword(password: string, salt: string): Promise<string> {
  const key = await pbkdf2Async(
    Buffer.from(password, 'utf8'),
    Buffer.from(salt, 'utf8'),
    HASH_ITERATIONS,
    HASH_BYTES,
    'sha256',
  );
  return key.toString('hex');
}

/**
 * Checks `password` against a stored hash in constant time.
 *
 * @example
 * if (await verifyPassword(given, user.salt, user.passwordHash)) { ... }
 */
export async function verifyPassword(password: string, salt: string, expectedHex: string): Promise<boolean> {
  const actual = Buffer.from(await hashPassword(password, salt), 'hex');
  const expected = Buffer.from(expectedHex, 'hex');
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
