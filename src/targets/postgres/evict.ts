/**
 * Issue 12, PostgreSQL: what an attacker holding a login may have left behind.
 *
 * At every finish the state directory keeps, in `postgres-roles-<KEY>.json` (mode 0600):
 * - `roles`: the names of the LOGIN roles (`pg_roles.rolcanlogin`, readable by any role);
 * - `verifiers`: when the connecting role may read `pg_authid` (superuser-only), a SHA-256 of each
 *   LOGIN role's stored verifier (`rolpassword`, SCRAM-SHA-256 or md5), `none` for a role without
 *   one. A hash of a verifier, never a password nor a verifier: it only tells whether the password
 *   changed, and cannot be used to log in or to test a guessed password;
 * - `at`: the server's time just before that rotation set the new password (left out when the
 *   finish ran in another process than the stage: then the sessions' age is not checked).
 *
 * A compromise rotation's finish ({@link checkRoles}) and the read-only look of `rekey verify
 * --trigger compromise` and `recover` ({@link checkFootholds}, which writes nothing) compare with it:
 * LOGIN roles neither rekey.yaml nor the list names, roles whose password changed outside rekey,
 * and sessions of the retired credential still open. Never throws: what cannot be checked is said,
 * with the reason.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import type pg from 'pg';
import { readIfExists, writeFileAtomic } from '../../lib/fsx.js';
import { safeMessage } from '../../lib/redact.js';
import type { EvictionFinding, TargetContext } from '../types.js';
import { type Connector, errorCode, type Login } from './connect.js';

/** What the state file keeps (names, hashes of verifiers, a time: never a secret). */
interface Kept {
  readonly roles?: string[];
  readonly verifiers?: Record<string, string>;
  readonly at?: string;
}

/** What one connection reads: LOGIN roles, those that may read pg_authid, verifier hashes (or why not). */
interface Seen {
  readonly roles: string[];
  readonly authidReaders: string[];
  readonly verifiers: Record<string, string> | { readonly denied: string };
}

interface Options {
  readonly db: Connector;
  /** Who reads pg_roles and pg_authid (may throw: then not checked). */
  readonly login: () => Login;
  /** Roles rekey.yaml names for this secret (user, roles, admin, memberOf). */
  readonly known: readonly string[];
  /** The state file, or undefined when no state directory is known (then nothing is kept). */
  readonly file: string | undefined;
  readonly service: string;
}

/**
 * At finish: reads the LOGIN roles and verifier hashes, compares (on compromise), saves them; returns
 * the findings. `rotated` are the roles this secret's rotation changed (their new verifier is no
 * foothold).
 *
 * @example
 * await checkRoles(ctx, { db, login, known: ['app'], rotated: ['app'], file, service });
 */
export async function checkRoles(
  ctx: TargetContext,
  o: Options & {
    readonly rotated: readonly string[];
    /** When the new password was set (server time), if known in this process. */
    readonly changedAt?: string | undefined;
  },
): Promise<EvictionFinding[]> {
  const compromise = ctx.trigger === 'compromise';
  let seen: Seen;
  let who = 'the configured role';
  try {
    const login = o.login();
    who = login.user;
    seen = await sharedRead(ctx, o.db, login);
  } catch (err) {
    return compromise
      ? [
          {
            service: o.service,
            foothold: 'users',
            status: 'unchecked',
            text: `could not check for new LOGIN roles: pg_roles could not be read as ${who} (${safeMessage(err)})`,
          },
        ]
      : [];
  }
  const { kept, problem } = await readKept(o.file);
  if (o.file) {
    const doc: Kept = {
      roles: seen.roles,
      ...('denied' in seen.verifiers ? {} : { verifiers: seen.verifiers }),
      ...(o.changedAt ? { at: o.changedAt } : {}),
    };
    try {
      await writeFileAtomic(o.file, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600, forceMode: true });
    } catch (err) {
      ctx.log.warn(`${o.service}: the list of LOGIN roles could not be saved: ${safeMessage(err)}`);
    }
  }
  if (!compromise) return [];
  return [
    usersFinding(o, seen, kept, problem),
    passwordsFinding(o.service, seen, kept, problem, who, o.rotated, 'the previous rotation'),
  ];
}

/**
 * Read-only: what an attacker could still use now (`rekey verify --trigger compromise`, `recover`).
 * `retired` is the role whose sessions must be gone and `since` whether only those opened before
 * the previous rotation count (single strategy: same role, new password); `active` (alternating) is
 * the role in use, whose sessions opened before the previous rotation used an older password.
 *
 * @example
 * await checkFootholds(ctx, { db, login, known, file, service, retired: 'app_blue', since: false });
 */
export async function checkFootholds(
  ctx: TargetContext,
  o: Options & { readonly retired: string; readonly since: boolean; readonly active?: string },
): Promise<EvictionFinding[]> {
  let who = 'the configured role';
  let login: Login;
  try {
    login = o.login();
    who = login.user;
  } catch (err) {
    return [unchecked(o.service, 'users', `could not connect: ${safeMessage(err)}`)];
  }
  const { kept, problem } = await readKept(o.file);
  try {
    return await o.db.withClient(ctx, login, 'look for footholds', async (c) => {
      const seen = await read(c);
      return [
        usersFinding(o, seen, kept, problem),
        passwordsFinding(o.service, seen, kept, problem, who, [], 'the last rotation'),
        ...(await sessionsFinding(c, o, kept)),
      ];
    });
  } catch (err) {
    return [unchecked(o.service, 'users', `could not check as ${who}: ${safeMessage(err)}`)];
  }
}

const memoKey = (db: Connector) => db.sharedKey('LOGIN roles');

/**
 * The LOGIN roles as `login` would read them, read once per server for all the finishes of a
 * rotation (`ctx.shared`): every finish on the server would read the same (pg_roles is readable by
 * any role), except that only a superuser (or a role granted SELECT on it) reads pg_authid. So
 * another finish's read is taken unless it was denied pg_authid and `login` may read it (then
 * `login` reads, and its read is shared).
 * A failed read is not shared. Without `ctx.shared`, each reads for itself.
 */
async function sharedRead(ctx: TargetContext, db: Connector, login: Login): Promise<Seen> {
  const memo = ctx.shared;
  const key = memoKey(db);
  const prior = memo?.get(key) as Promise<Seen> | undefined;
  if (prior !== undefined) {
    const seen = await prior.catch(() => undefined);
    if (seen !== undefined && (!('denied' in seen.verifiers) || !seen.authidReaders.includes(login.user)))
      return seen;
  }
  const mine = db.withClient(ctx, login, 'list LOGIN roles', read);
  // Set before any await of this call, so the finishes running beside it wait for this one read.
  if (memo !== undefined && memo.get(key) === prior) memo.set(key, mine);
  return mine;
}

/**
 * After a finish changed a role's password on the server (alternating, compromise): the shared read
 * is stale, the next finish reads again.
 */
export function forgetSharedRead(ctx: TargetContext, db: Connector): void {
  ctx.shared?.delete(memoKey(db));
}

async function read(c: pg.Client): Promise<Seen> {
  const rows = (
    await c.query<{ rolname: string; authid: boolean }>(
      `SELECT rolname, rolsuper OR has_table_privilege(oid, 'pg_catalog.pg_authid', 'SELECT') AS authid
         FROM pg_roles WHERE rolcanlogin ORDER BY 1`,
    )
  ).rows;
  const roles = rows.map((r) => r.rolname);
  const authidReaders = rows.filter((r) => r.authid).map((r) => r.rolname);
  let verifiers: Seen['verifiers'];
  try {
    const { rows } = await c.query<{ rolname: string; rolpassword: string | null }>(
      'SELECT rolname, rolpassword FROM pg_authid WHERE rolcanlogin ORDER BY 1',
    );
    verifiers = Object.fromEntries(
      rows.map((r) => [
        r.rolname,
        r.rolpassword === null ? 'none' : createHash('sha256').update(r.rolpassword).digest('hex'),
      ]),
    );
  } catch (err) {
    if (errorCode(err) !== '42501') throw err;
    verifiers = { denied: 'pg_authid is superuser-only' };
  }
  return { roles, authidReaders, verifiers };
}

async function readKept(file: string | undefined): Promise<{ kept?: Kept; problem?: string }> {
  if (!file) return {};
  try {
    const text = await readIfExists(file);
    if (text === undefined) return {};
    const doc = JSON.parse(text) as Kept;
    return {
      kept: {
        ...(Array.isArray(doc.roles) ? { roles: doc.roles.map(String) } : {}),
        ...(doc.verifiers && typeof doc.verifiers === 'object' ? { verifiers: doc.verifiers } : {}),
        ...(typeof doc.at === 'string' ? { at: doc.at } : {}),
      },
    };
  } catch (err) {
    return { problem: `the previous list ${path.basename(file)} is unreadable (${safeMessage(err)})` };
  }
}

function usersFinding(o: Options, seen: Seen, kept: Kept | undefined, problem?: string): EvictionFinding {
  const previous = kept?.roles;
  const unknown = seen.roles.filter((r) => !o.known.includes(r) && !(previous ?? []).includes(r));
  const basis = previous
    ? 'neither in rekey.yaml nor present at the previous rotation'
    : `not in rekey.yaml (${problem ?? 'no list from a previous rotation to compare with'})`;
  return unknown.length === 0
    ? { service: o.service, foothold: 'users', status: 'clean', text: `no LOGIN role ${basis}` }
    : {
        service: o.service,
        foothold: 'users',
        status: 'reported',
        text: `LOGIN role${unknown.length === 1 ? '' : 's'} ${basis}: ${unknown.join(', ')}; left in place (review, then ALTER ROLE … NOLOGIN or DROP ROLE)`,
      };
}

function passwordsFinding(
  service: string,
  seen: Seen,
  kept: Kept | undefined,
  problem: string | undefined,
  who: string,
  rotated: readonly string[],
  since: string,
): EvictionFinding {
  if ('denied' in seen.verifiers) {
    return unchecked(
      service,
      'passwords',
      `could not check whether a role's password changed outside rekey: ${seen.verifiers.denied} and ${who} is not one (configure an \`admin\` superuser to have it checked)`,
    );
  }
  if (!kept?.verifiers) {
    return unchecked(
      service,
      'passwords',
      `could not check whether a role's password changed outside rekey: ${problem ?? `no fingerprint from ${since} to compare with (kept when the connecting role may read pg_authid)`}`,
    );
  }
  const before = kept.verifiers;
  const now = seen.verifiers;
  const changed = Object.keys(now).filter(
    (r) => before[r] !== undefined && before[r] !== now[r] && !rotated.includes(r),
  );
  return changed.length === 0
    ? {
        service,
        foothold: 'passwords',
        status: 'clean',
        text: `no LOGIN role's password changed outside rekey since ${since} (compared by a hash of its verifier)`,
      }
    : {
        service,
        foothold: 'passwords',
        status: 'reported',
        text: `password changed outside rekey since ${since}: role${changed.length === 1 ? '' : 's'} ${changed.join(', ')}; left in place (set a new password, or ALTER ROLE … NOLOGIN)`,
      };
}

async function sessionsFinding(
  c: pg.Client,
  o: Options & { readonly retired: string; readonly since: boolean; readonly active?: string },
  kept: Kept | undefined,
): Promise<EvictionFinding[]> {
  const retired = await sessionsOf(c, o, kept);
  // Alternating: the active role's sessions from before the last rotation used an older password.
  if (o.active === undefined || o.active === o.retired) return [retired];
  return [retired, await sessionsOf(c, { ...o, retired: o.active, since: true }, kept)];
}

async function sessionsOf(
  c: pg.Client,
  o: Options & { readonly retired: string; readonly since: boolean },
  kept: Kept | undefined,
): Promise<EvictionFinding> {
  if (o.since && !kept?.at) {
    return unchecked(
      o.service,
      'sessions',
      `could not check the sessions of ${o.retired} opened with an older password: the time of the previous rotation's password change is not known (no state file, or its finish ran in another process)`,
    );
  }
  // backend_start is NULL for the sessions the connected role may not inspect: counted as unknown.
  const { rows } = await c.query<{ seen: number; hidden: number }>(
    `SELECT count(*) FILTER (WHERE backend_start IS NOT NULL)::int AS seen,
            count(*) FILTER (WHERE backend_start IS NULL)::int AS hidden
       FROM pg_stat_activity
      WHERE usename = $1 AND coalesce(backend_type, 'client backend') = 'client backend'
        AND pid <> pg_backend_pid() AND (backend_start IS NULL OR backend_start < coalesce($2::timestamptz, now()))`,
    [o.retired, o.since ? (kept?.at ?? null) : null],
  );
  const seen = rows[0]?.seen ?? 0;
  const hidden = rows[0]?.hidden ?? 0;
  const which = o.since
    ? `of role ${o.retired} opened before the last rotation (${kept?.at})`
    : `of the retired role ${o.retired}`;
  if (seen > 0) {
    return {
      service: o.service,
      foothold: 'sessions',
      status: 'reported',
      text: `${seen} session${seen === 1 ? '' : 's'} ${which} still open; left in place (end them with pg_terminate_backend, or rotate with --trigger compromise)`,
    };
  }
  if (hidden > 0) {
    return unchecked(
      o.service,
      'sessions',
      `could not check ${hidden} session${hidden === 1 ? '' : 's'} of ${o.retired}: the connecting role may not see when they started (needs pg_read_all_stats)`,
    );
  }
  return { service: o.service, foothold: 'sessions', status: 'clean', text: `no session ${which}` };
}

function unchecked(service: string, foothold: EvictionFinding['foothold'], text: string): EvictionFinding {
  return {
    service,
    foothold,
    status: 'unchecked',
    text: text.startsWith('could not') ? text : `could not check: ${text}`,
  };
}
