/**
 * Issue 12, PostgreSQL: roles an attacker may have added. At every finish the names of the LOGIN
 * roles (`pg_roles.rolcanlogin`, readable by any role) are kept in the state directory (names only,
 * never passwords); a compromise rotation reports LOGIN roles that neither rekey.yaml nor the list of
 * the previous rotation names. Never throws: what cannot be checked is said, with the reason.
 */
import path from 'node:path';
import { readIfExists, writeFileAtomic } from '../../core/fsx.js';
import { safeMessage } from '../../core/redact.js';
import type { EvictionFinding, TargetContext } from '../types.js';
import type { Connector, Login } from './connect.js';

/**
 * Reads the LOGIN roles, compares (on compromise), saves the list; returns the findings.
 *
 * @example
 * await checkRoles(ctx, { db, login, known: ['app'], file: '.rekey/postgres-roles-PG.json', service });
 */
export async function checkRoles(
  ctx: TargetContext,
  o: {
    readonly db: Connector;
    /** Who reads pg_roles (may throw: then not checked). */
    readonly login: () => Login;
    /** Roles rekey.yaml names for this secret (user, roles, admin, memberOf). */
    readonly known: readonly string[];
    /** The list's file, or undefined when no state directory is known (then nothing is kept). */
    readonly file: string | undefined;
    readonly service: string;
  },
): Promise<EvictionFinding[]> {
  const compromise = ctx.trigger === 'compromise';
  let roles: string[];
  let who = 'the configured role';
  try {
    const login = o.login();
    who = login.user;
    roles = await o.db.withClient(ctx, login, 'list LOGIN roles', async (c) =>
      (
        await c.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolcanlogin ORDER BY 1')
      ).rows.map((r) => r.rolname),
    );
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
  let previous: string[] | undefined;
  let problem: string | undefined;
  if (o.file) {
    try {
      const text = await readIfExists(o.file);
      const doc: unknown = text === undefined ? undefined : JSON.parse(text);
      const list = (doc as { roles?: unknown } | undefined)?.roles;
      if (Array.isArray(list)) previous = list.map(String);
    } catch (err) {
      problem = `the previous list ${path.basename(o.file)} is unreadable (${safeMessage(err)})`;
    }
    try {
      await writeFileAtomic(o.file, `${JSON.stringify({ roles }, null, 2)}\n`, { mode: 0o600 });
    } catch (err) {
      ctx.log.warn(`${o.service}: the list of LOGIN roles could not be saved: ${safeMessage(err)}`);
    }
  }
  if (!compromise) return [];
  const unknown = roles.filter((r) => !o.known.includes(r) && !(previous ?? []).includes(r));
  const basis = previous
    ? 'neither in rekey.yaml nor present at the previous rotation'
    : `not in rekey.yaml (${problem ?? 'no list from a previous rotation to compare with'})`;
  const findings: EvictionFinding[] = [
    unknown.length === 0
      ? {
          service: o.service,
          foothold: 'users',
          status: 'clean',
          text: `no LOGIN role ${basis}`,
        }
      : {
          service: o.service,
          foothold: 'users',
          status: 'reported',
          text: `LOGIN role${unknown.length === 1 ? '' : 's'} ${basis}: ${unknown.join(', ')}; left in place (review, then ALTER ROLE … NOLOGIN or DROP ROLE)`,
        },
    {
      service: o.service,
      foothold: 'passwords',
      status: 'unchecked',
      text: 'could not check whether other roles’ passwords changed outside rekey: PostgreSQL keeps no password history, and pg_authid is superuser-only',
    },
  ];
  return findings;
}
