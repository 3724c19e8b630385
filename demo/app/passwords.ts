/**
 * User password hashes: scrypt (Node's `crypto.scrypt`) with a random 16-byte salt, stored as
 * `scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>` so the cost can be raised later without breaking
 * stored hashes. Verification compares in constant time.
 */
import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

const COST = { N: 16384, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const MAX_MEM = 64 * 1024 * 1024;

function derive(password: string, salt: Buffer, options: ScryptOptions, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, length, { ...options, maxmem: MAX_MEM }, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/**
 * Hashes a password for the `users` table.
 *
 * @example
 * const hash = await hashPassword('correct horse'); // 'scrypt$16384$8$1$...$...'
 */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, COST, KEY_LENGTH);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), key.toString('base64')].join('$');
}

/** A well-formed hash of a random password: checked against when the user does not exist. */
const DUMMY = hashPassword(randomBytes(16).toString('hex'));

/**
 * True when `password` matches `stored` (a {@link hashPassword} result). A malformed hash never
 * matches. Pass `undefined` for an unknown user: the same work is done, so timing does not tell
 * whether the user exists.
 *
 * @example
 * if (!(await verifyPassword(password, row?.password_hash))) return unauthorized();
 */
export async function verifyPassword(password: string, stored: string | undefined): Promise<boolean> {
  const parts = (stored ?? (await DUMMY)).split('$');
  const [scheme, n, r, p, salt, hash] = parts;
  if (parts.length !== 6 || scheme !== 'scrypt' || salt === undefined || hash === undefined) return false;
  const expected = Buffer.from(hash, 'base64');
  const options = { N: Number(n), r: Number(r), p: Number(p) };
  if (expected.length === 0 || !Object.values(options).every(Number.isInteger)) return false;
  const actual = await derive(password, Buffer.from(salt, 'base64'), options, expected.length);
  return timingSafeEqual(actual, expected) && stored !== undefined;
}
