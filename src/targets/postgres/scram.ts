/**
 * Client-side SCRAM-SHA-256 verifiers, in PostgreSQL's format (src/common/scram-common.c). Sending
 * `PASSWORD '<verifier>'` instead of the plaintext keeps the password out of the server's statement
 * log, `pg_stat_statements` and error messages; the server stores a pre-hashed verifier as-is,
 * whatever `password_encryption` says.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

/** PostgreSQL's default `scram_iterations` (and the only value before PostgreSQL 16). */
export const SCRAM_ITERATIONS = 4096;

const hmac = (key: Buffer, text: string): Buffer => createHmac('sha256', key).update(text, 'utf8').digest();

/**
 * Computes `SCRAM-SHA-256$<iterations>:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>`.
 * libpq applies SASLprep to the password first; for ASCII passwords (all rekey generates) that is a
 * no-op, so the password is used as UTF-8 bytes unchanged.
 *
 * @example
 * const verifier = scramVerifier('s3cret'); // 'SCRAM-SHA-256$4096:...$...:...'
 * await client.query(`ALTER ROLE app PASSWORD ${escapeLiteral(verifier)}`);
 */
export function scramVerifier(
  password: string,
  iterations = SCRAM_ITERATIONS,
  salt: Buffer = randomBytes(16),
): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, 32, 'sha256');
  const storedKey = createHash('sha256').update(hmac(salted, 'Client Key')).digest();
  const serverKey = hmac(salted, 'Server Key');
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
