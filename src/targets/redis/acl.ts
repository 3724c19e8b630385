/**
 * Redis ACL passwords by their SHA-256: `#<hex>` adds a pre-hashed password and `!<hex>` removes one
 * (Redis ACL docs, SERVICE-FACTS "Redis"), so a plaintext password never travels in a command — only
 * in AUTH, the protocol's own place for it. `ACL GETUSER` lists the hashes, which is how every step
 * checks whether it is already done.
 */
import { createHash } from 'node:crypto';
import { RekeyError } from '../../lib/errors.js';
import { type RedisConn, type RedisEndpoint, where } from './connect.js';

/**
 * The lowercase hex SHA-256 Redis stores for a password.
 *
 * @example
 * aclHash('pw'); // '30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4'
 */
export function aclHash(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

export interface AclUser {
  /** The password hashes, in the order Redis lists them. */
  readonly passwords: readonly string[];
  readonly flags: readonly string[];
}

/**
 * The user's flags and password hashes, from `ACL GETUSER` (RESP2: a flat key/value list).
 * Throws ERR_TARGET_REJECTED when the user does not exist.
 *
 * @example
 * const { passwords } = await getUser(conn, ep);
 * passwords.includes(aclHash(next));
 */
export async function getUser(conn: RedisConn, ep: RedisEndpoint): Promise<AclUser> {
  const reply = await conn.command<unknown>(['ACL', 'GETUSER', ep.user]);
  if (!Array.isArray(reply)) {
    throw new RekeyError('ERR_TARGET_REJECTED', `${ep.key}: ${where(ep)} has no ACL user ${ep.user}`, {
      hint: 'Check `user` for this secret in rekey.yaml.',
    });
  }
  const field = (name: string): string[] => {
    const i = reply.indexOf(name);
    const value: unknown = i >= 0 ? reply[i + 1] : undefined;
    return Array.isArray(value) ? value.map(String) : [];
  };
  return { passwords: field('passwords'), flags: field('flags') };
}

/**
 * Applies ACL rules to the user (left to right, atomically) and returns the user as Redis then holds
 * it. Rules are hashes only: `#<hex>` / `!<hex>`.
 *
 * @example
 * await setUser(conn, ep, [`#${aclHash(next)}`]);
 */
export async function setUser(
  conn: RedisConn,
  ep: RedisEndpoint,
  rules: readonly string[],
): Promise<AclUser> {
  if (rules.length > 0) await conn.command(['ACL', 'SETUSER', ep.user, ...rules]);
  return getUser(conn, ep);
}
