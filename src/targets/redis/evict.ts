/**
 * Eviction on `--trigger compromise` (issue 12): what an attacker holding the old password could
 * have left behind on a Redis server, found and removed.
 * - The rotated user keeps exactly one password, the new one: `ACL SETUSER <user> resetpass
 *   #<new hash>` in one command (an attacker's own `>password` goes with the old one), run at finish,
 *   after the app was redeployed and verified with the new one.
 * - Every connection authenticated as that user before that command is closed: `CLIENT KILL USER
 *   <user> SKIPME yes` (rekey's own connection is kept). Redis cannot tell which password a connection
 *   used (SERVICE-FACTS), and the old password stays valid until finish, so a line drawn at the commit
 *   (connection age) would spare one opened with the old password after the commit; the app's pool,
 *   opened with the new password, is closed too and reconnects (node-redis does so by itself).
 * - Other ACL users holding a password hash not seen at preflight are reported by name (hashes never
 *   leave this module); with `evictUnknown` those hashes are removed.
 */
import type { EvictionFinding } from '../types.js';
import { type RedisConn, type RedisEndpoint, where } from './connect.js';

/** user → password hashes, as `ACL LIST` shows them (`user <name> ... #<sha256> ...`). */
export type AclSnapshot = ReadonlyMap<string, readonly string[]>;

/**
 * Reads every ACL user's password hashes.
 *
 * @example
 * (await aclSnapshot(conn)).get('default'); // ['5e88…']
 */
export async function aclSnapshot(conn: RedisConn): Promise<AclSnapshot> {
  const reply = await conn.command<unknown>(['ACL', 'LIST']);
  const users = new Map<string, string[]>();
  for (const line of Array.isArray(reply) ? reply.map(String) : []) {
    const words = line.split(' ');
    if (words[0] !== 'user' || !words[1]) continue;
    users.set(
      words[1],
      words.filter((w) => /^#[0-9a-f]{64}$/.test(w)).map((w) => w.slice(1)),
    );
  }
  return users;
}

/**
 * Closes every connection authenticated as `user` except this one; returns how many were closed.
 *
 * @example
 * await killUser(conn, 'default'); // 3
 */
export async function killUser(conn: RedisConn, user: string): Promise<number> {
  return Number(await conn.command(['CLIENT', 'KILL', 'USER', user, 'SKIPME', 'yes']));
}

/**
 * Users other than `self` that now hold a password hash `before` did not list, with those hashes.
 * Without `before` (finish ran in another process than preflight), undefined: cannot tell.
 */
export function unknownPasswords(
  before: AclSnapshot | undefined,
  now: AclSnapshot,
  self: string,
): Map<string, string[]> | undefined {
  if (!before) return undefined;
  const found = new Map<string, string[]>();
  for (const [user, hashes] of now) {
    if (user === self) continue;
    const known = before.get(user) ?? [];
    const added = hashes.filter((h) => !known.includes(h));
    if (added.length > 0) found.set(user, added);
  }
  return found;
}

/** The service label the eviction report groups findings under. */
export const serviceOf = (ep: RedisEndpoint) => `${where(ep)} (${ep.key})`;

export type { EvictionFinding };
