/**
 * The read-only look for footholds on a Redis server (`checkFootholds`: `rekey verify --trigger
 * compromise`, `recover`), and the list of ACL users it compares with.
 * - passwords: the rotated user's password hashes (`ACL GETUSER`) besides the env file's current
 *   value (compared by SHA-256; hashes never leave this module);
 * - users: ACL users holding more passwords than the list kept at the last finish says (a user
 *   missing from it counts as holding none). The list (`redis-users-<KEY>.json` in the state
 *   directory, 0600, written atomically) holds user names and password counts only, never a hash;
 *   a user reported unknown by a compromise finish keeps its count from before, so it stays reported;
 * - connections: the rotated user's open connections (`CLIENT LIST`): those older than the last
 *   finish (recorded in the same file) may hold a retired or an attacker's password: Redis cannot
 *   tell which password a connection used.
 * Statuses are honest: 'reported' (found, left), 'clean' (checked, none), 'unchecked' (with why).
 */
import path from 'node:path';
import { readIfExists, writeFileAtomic } from '../../lib/fsx.js';
import { safeMessage } from '../../lib/redact.js';
import type { EvictionFinding } from '../types.js';
import { aclHash, getUser } from './acl.js';
import { classify, describeDriverError, type RedisConn, type RedisEndpoint } from './connect.js';
import { type AclSnapshot, aclSnapshot, serviceOf } from './evict.js';

/** The list kept at finish: user → how many passwords it held, and when that finish ran. */
export interface KnownUsers {
  readonly users: Readonly<Record<string, number>>;
  /** ISO time of the finish that wrote the list. */
  readonly finishedAt: string;
}

/** The list's file, or undefined without a state directory. */
export const knownUsersFile = (stateDir: string | undefined, key: string) =>
  stateDir ? path.join(stateDir, `redis-users-${key}.json`) : undefined;

/**
 * Reads the list; undefined when there is none yet; throws with a readable reason when it is
 * unreadable or malformed.
 */
export async function readKnownUsers(file: string): Promise<KnownUsers | undefined> {
  const text = await readIfExists(file);
  if (text === undefined) return undefined;
  const doc = JSON.parse(text) as Partial<KnownUsers> | null;
  const users = doc?.users;
  if (!users || typeof users !== 'object' || typeof doc?.finishedAt !== 'string') {
    throw new Error(`${path.basename(file)} is not a list of ACL users`);
  }
  return { users, finishedAt: doc.finishedAt };
}

/**
 * The list to keep after a finish: every user's password count now, except that a user never
 * counts more than `before` (what preflight saw, or the previous list) allowed it: a password gained
 * outside rekey stays unknown until an operator looks. `self` (the rotated user) counts as now.
 *
 * @example
 * knownAfterFinish(now, before, 'default'); // { default: 1, other: 1 }
 */
export function knownAfterFinish(
  now: AclSnapshot,
  before: Readonly<Record<string, number>> | undefined,
  self: string,
): Record<string, number> {
  const users: Record<string, number> = {};
  for (const [name, hashes] of now) {
    const had = before?.[name];
    users[name] = name === self || before === undefined ? hashes.length : Math.min(hashes.length, had ?? 0);
  }
  return users;
}

/** An {@link AclSnapshot} as counts (what the list keeps). */
export const counts = (snapshot: AclSnapshot): Record<string, number> =>
  Object.fromEntries([...snapshot].map(([name, hashes]) => [name, hashes.length]));

/** Writes the list atomically (0600). */
export async function writeKnownUsers(file: string, users: Record<string, number>, at = new Date()) {
  const doc: KnownUsers = { users, finishedAt: at.toISOString() };
  await writeFileAtomic(file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, forceMode: true });
}

/** One connection of `CLIENT LIST`: its id, user and age in seconds. */
export interface ClientInfo {
  readonly id: string;
  readonly user: string;
  readonly age: number;
}

/** Parses `CLIENT LIST` (one `key=value ...` line per connection). */
export function parseClientList(text: string): ClientInfo[] {
  const out: ClientInfo[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const field = (name: string) => new RegExp(`(?:^| )${name}=(\\S*)`).exec(line)?.[1] ?? '';
    out.push({ id: field('id'), user: field('user'), age: Number(field('age')) || 0 });
  }
  return out;
}

/** "3 s", "5 min", "2 h", "4 d". */
export function age(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} d`;
}

export interface FootholdOptions {
  readonly ep: RedisEndpoint;
  /** The env file's current password of the rotated user. */
  readonly current: string;
  /** The list's file (undefined: no state directory). */
  readonly file: string | undefined;
  /** Whether the connection is the rotated user's own (then it is not counted). */
  readonly asSelf: boolean;
}

/**
 * The three read-only checks on one connection (the admin's, or the user's own). Never throws.
 *
 * @example
 * const findings = await lookForFootholds(conn, { ep, current, file, asSelf: false });
 */
export async function lookForFootholds(conn: RedisConn, o: FootholdOptions): Promise<EvictionFinding[]> {
  const service = serviceOf(o.ep);
  const user = o.ep.user;
  const why = (err: unknown) =>
    `${describeDriverError(err)}${o.asSelf && classify(err) === 'privilege' ? `; configure \`admin\` for ${o.ep.key}` : ''}`;
  const findings: EvictionFinding[] = [];

  try {
    const u = await getUser(conn, o.ep);
    const mine = aclHash(o.current);
    const extra = u.passwords.filter((h) => h !== mine).length;
    const missing = !u.passwords.includes(mine);
    if (u.flags.includes('nopass')) {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'reported',
        text: `user ${user} has nopass: any password works (ACL SETUSER ${user} resetpass, then rotate)`,
      });
    } else if (extra > 0) {
      findings.push({
        service,
        foothold: 'passwords',
        status: 'reported',
        text: `user ${user} holds ${extra} password${extra === 1 ? '' : 's'} besides the env file's current one${missing ? ' (and not that one)' : ''}: \`rekey rotate --trigger compromise\` keeps only the new one`,
      });
    } else {
      findings.push({
        service,
        foothold: 'passwords',
        status: missing ? 'reported' : 'clean',
        text: missing
          ? `user ${user} holds no password, not even the env file's current one`
          : `user ${user} holds only the env file's current password`,
      });
    }
  } catch (err) {
    findings.push({
      service,
      foothold: 'passwords',
      status: 'unchecked',
      text: `could not check user ${user}'s passwords: ACL GETUSER failed (${why(err)})`,
    });
  }

  let known: KnownUsers | undefined;
  let noList: string | undefined;
  if (!o.file) noList = 'no state directory to keep a list of ACL users in';
  else {
    try {
      known = await readKnownUsers(o.file);
      if (!known)
        noList = 'no list of ACL users from a previous rotation (rekey keeps one from the next finish on)';
    } catch (err) {
      noList = `the list of ACL users is unreadable (${safeMessage(err)})`;
    }
  }

  try {
    const now = await aclSnapshot(conn);
    if (!known) {
      findings.push({
        service,
        foothold: 'users',
        status: 'unchecked',
        text: `could not check other ACL users for new passwords: ${noList}`,
      });
    } else {
      const gained = [...now]
        .filter(([name, hashes]) => name !== user && hashes.length > (known.users[name] ?? 0))
        .map(([name, hashes]) => `${name} (${hashes.length - (known.users[name] ?? 0)})`);
      findings.push(
        gained.length === 0
          ? {
              service,
              foothold: 'users',
              status: 'clean',
              text: 'no other ACL user holds more passwords than at the last rotation',
            }
          : {
              service,
              foothold: 'users',
              status: 'reported',
              text: `ACL users holding passwords added since the last rotation (how many): ${gained.join(', ')}; left in place (review them; sessions.redis.evictUnknown removes them on a compromise rotation)`,
            },
      );
    }
  } catch (err) {
    findings.push({
      service,
      foothold: 'users',
      status: 'unchecked',
      text: `could not check other ACL users: ACL LIST failed (${why(err)})`,
    });
  }

  try {
    const ownId = o.asSelf ? String(await conn.command(['CLIENT', 'ID'])) : undefined;
    const mine = parseClientList(String(await conn.command(['CLIENT', 'LIST']))).filter(
      (c) => c.user === user && c.id !== ownId,
    );
    const ages = mine.map((c) => c.age).sort((a, b) => a - b);
    const span =
      ages.length === 0
        ? ''
        : ages.length === 1
          ? ` (age ${age(ages[0] ?? 0)})`
          : ` (ages ${age(ages[0] ?? 0)} to ${age(ages.at(-1) ?? 0)})`;
    const n = mine.length;
    const conns = `${n} open connection${n === 1 ? '' : 's'} of user ${user}${span}`;
    if (!known) {
      findings.push({
        service,
        foothold: 'connections',
        status: n === 0 ? 'clean' : 'unchecked',
        text:
          n === 0
            ? `no open connection of user ${user}`
            : `${conns}: could not tell whether they predate the last rotation (${noList})`,
      });
    } else {
      const since = Math.max(0, Math.floor((Date.now() - Date.parse(known.finishedAt)) / 1000));
      const before = mine.filter((c) => c.age > since).length;
      findings.push(
        before === 0
          ? {
              service,
              foothold: 'connections',
              status: 'clean',
              text: `${conns}, none opened before the last rotation's finish (${age(since)} ago)`,
            }
          : {
              service,
              foothold: 'connections',
              status: 'reported',
              text: `${conns}; ${before} opened before the last rotation's finish (${age(since)} ago), possibly with a retired or unknown password (Redis cannot tell which): \`rekey rotate --trigger compromise\` closes them`,
            },
      );
    }
  } catch (err) {
    findings.push({
      service,
      foothold: 'connections',
      status: 'unchecked',
      text: `could not check user ${user}'s connections: CLIENT LIST failed (${why(err)})`,
    });
  }
  return findings;
}
