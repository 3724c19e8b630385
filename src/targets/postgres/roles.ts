/**
 * Reading roles and changing their passwords. Utility statements take no bind parameters, so names
 * and literals are escaped with the driver's functions; the password travels only as a SCRAM-SHA-256
 * verifier computed here. A superuser connection also switches statement logging off for the change
 * and pg_stat_statements tracking off for the change (`SET LOCAL`, as CloudNativePG does).
 */
import pg from 'pg';
import { SCRAM_ITERATIONS, scramVerifier } from './scram.js';

/** The role a connection is logged in as, and what the server offers. */
export interface SessionInfo {
  readonly user: string;
  readonly superuser: boolean;
  readonly createrole: boolean;
  /** `scram_iterations` (PostgreSQL 16+), else 4096. */
  readonly iterations: number;
  readonly serverVersion: number;
}

/** A role as seen from a connection; `exists: false` leaves the other fields false/null. */
export interface RoleInfo {
  readonly name: string;
  readonly exists: boolean;
  readonly superuser: boolean;
  readonly createrole: boolean;
  readonly canLogin: boolean;
  readonly inherit: boolean;
  /** `rolvaliduntil` as text, null when none. */
  readonly validUntil: string | null;
  /** The expiry differs from the configured `validUntil` (NULL counts as infinity). */
  readonly expiryDiffers: boolean;
  /** The connected role may change this role's VALID UNTIL. */
  readonly canSetExpiry: boolean;
  /** Directly a member of the group asked about. */
  readonly member: boolean;
}

/**
 * Who the connection is, the SCRAM iteration count to use and the server version.
 *
 * @example
 * const me = await sessionInfo(client); // { user: 'app', superuser: false, iterations: 4096, ... }
 */
export async function sessionInfo(client: pg.ClientBase): Promise<SessionInfo> {
  const { rows } = await client.query<{
    user: string;
    superuser: boolean;
    createrole: boolean;
    iterations: string | null;
    version: number;
  }>(
    `SELECT current_user AS user, r.rolsuper AS superuser, r.rolcreaterole AS createrole,
            current_setting('scram_iterations', true) AS iterations,
            current_setting('server_version_num')::int AS version
       FROM pg_roles r WHERE r.rolname = current_user`,
  );
  const row = rows[0];
  if (row === undefined) throw new Error('current_user is missing from pg_roles');
  const iterations = Number(row.iterations);
  return {
    user: row.user,
    superuser: row.superuser,
    createrole: row.createrole,
    iterations: Number.isInteger(iterations) && iterations > 0 ? iterations : SCRAM_ITERATIONS,
    serverVersion: row.version,
  };
}

/**
 * Reads role `name` as the connected role sees it. `validUntil` is the configured expiry to compare
 * with; `group` the role whose direct membership is reported in `member`.
 *
 * Changing VALID UNTIL needs superuser, or CREATEROLE on a role that is neither superuser nor
 * replication (PostgreSQL 16+: also ADMIN OPTION on it, which a role never has on itself). A role
 * may always change its own password.
 *
 * @example
 * const r = await roleInfo(client, 'app', 'infinity');
 * if (r.expiryDiffers && !r.canSetExpiry) warn('expiry kept');
 */
export async function roleInfo(
  client: pg.ClientBase,
  name: string,
  validUntil = 'infinity',
  group?: string,
): Promise<RoleInfo> {
  const { rows } = await client.query<{
    exists: boolean;
    superuser: boolean | null;
    createrole: boolean | null;
    login: boolean | null;
    inherit: boolean | null;
    valid_until: string | null;
    expiry_differs: boolean | null;
    can_set_expiry: boolean | null;
    member: boolean | null;
  }>(
    `SELECT r.oid IS NOT NULL AS exists, r.rolsuper AS superuser, r.rolcreaterole AS createrole,
            r.rolcanlogin AS login, r.rolinherit AS inherit, r.rolvaliduntil::text AS valid_until,
            coalesce(r.rolvaliduntil, 'infinity') IS DISTINCT FROM $2::timestamptz AS expiry_differs,
            me.rolsuper OR (me.rolcreaterole AND NOT r.rolsuper AND NOT r.rolreplication
              AND (current_setting('server_version_num')::int < 160000
                   OR pg_has_role(me.oid, r.oid, 'MEMBER WITH ADMIN OPTION'))) AS can_set_expiry,
            EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
                     WHERE m.member = r.oid AND g.rolname = $3) AS member
       FROM pg_roles me LEFT JOIN pg_roles r ON r.rolname = $1
      WHERE me.rolname = current_user`,
    [name, validUntil, group ?? null],
  );
  const row = rows[0];
  const exists = row?.exists === true;
  return {
    name,
    exists,
    superuser: exists && row?.superuser === true,
    createrole: exists && row?.createrole === true,
    canLogin: exists && row?.login === true,
    inherit: exists && row?.inherit === true,
    validUntil: exists ? (row?.valid_until ?? null) : null,
    expiryDiffers: exists && row?.expiry_differs === true,
    canSetExpiry: exists && row?.can_set_expiry === true,
    member: exists && row?.member === true,
  };
}

/**
 * True when role `name` exists.
 *
 * @example
 * if (!(await roleExists(client, 'app'))) throw new Error('create the application role first');
 */
export async function roleExists(client: pg.ClientBase, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [name]);
  return rowCount === 1;
}

/**
 * The `PASSWORD '<verifier>'` clause for `password` (`PASSWORD NULL` for null: no password login).
 *
 * @example
 * `ALTER ROLE app ${passwordClause(pw, me.iterations)}`;
 */
export function passwordClause(password: string | null, iterations: number): string {
  return password === null
    ? 'PASSWORD NULL'
    : `PASSWORD ${pg.escapeLiteral(scramVerifier(password, iterations))}`;
}

/**
 * `VALID UNTIL '<ts>'`, the timestamp escaped as a literal.
 *
 * @example
 * validUntilClause('infinity'); // "VALID UNTIL 'infinity'"
 */
export function validUntilClause(validUntil: string): string {
  return `VALID UNTIL ${pg.escapeLiteral(validUntil)}`;
}

/**
 * `ALTER ROLE "<name>" <options...>`, the name escaped as an identifier.
 *
 * @example
 * alterRole('app_blue', 'PASSWORD NULL'); // 'ALTER ROLE "app_blue" PASSWORD NULL'
 */
export function alterRole(name: string, ...options: string[]): string {
  return `ALTER ROLE ${pg.escapeIdentifier(name)} ${options.join(' ')}`;
}

/**
 * Runs `statements` in one transaction. `quiet` (the connected role is a superuser) first sets
 * `log_statement = 'none'`, `log_min_error_statement = 'panic'` and
 * `pg_stat_statements.track_utility = off` for the transaction, so not even the verifier reaches the
 * server log or pg_stat_statements. Rolls back on any error.
 *
 * @example
 * await inTransaction(client, me.superuser, [alterRole('app', passwordClause(pw, me.iterations))]);
 */
export async function inTransaction(client: pg.ClientBase, quiet: boolean, statements: readonly string[]) {
  await client.query('BEGIN');
  try {
    if (quiet) {
      await client.query("SET LOCAL log_statement = 'none'");
      await client.query("SET LOCAL log_min_error_statement = 'panic'");
      // A placeholder when pg_stat_statements is not loaded; else it skips these statements.
      await client.query('SET LOCAL pg_stat_statements.track_utility = off');
    }
    for (const sql of statements) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

/**
 * The server's clock now, as text (for comparisons with `backend_start`, free of client clock skew).
 *
 * @example
 * const at = await serverNow(client); // '2026-01-01 12:00:00.123456+00'
 */
export async function serverNow(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ now: string }>('SELECT clock_timestamp()::text AS now');
  return rows[0]?.now ?? '';
}

/**
 * A role's attributes in words, for plan notes.
 *
 * @example
 * describeRole(r); // 'not superuser, no CREATEROLE, LOGIN, no expiry'
 */
export function describeRole(r: RoleInfo): string {
  const attrs = [
    r.superuser ? 'superuser' : 'not superuser',
    r.createrole ? 'CREATEROLE' : 'no CREATEROLE',
    r.canLogin ? 'LOGIN' : 'NOLOGIN',
    r.validUntil === null || r.validUntil === 'infinity' ? 'no expiry' : `VALID UNTIL ${r.validUntil}`,
  ];
  return attrs.join(', ');
}
