/**
 * Set-up statements for a throwaway PostgreSQL server, run as its superuser. Passwords travel as
 * client-computed SCRAM-SHA-256 verifiers, never as plaintext (the statement log would keep it).
 */
import pg from 'pg';
import type { PostgresServer } from './postgres.js';
import { scramVerifier } from './scram.js';

/**
 * Connection settings for the superuser over TCP.
 *
 * @example
 * const client = new pg.Client(superuserConfig(server, 'business_intelligence'));
 */
export function superuserConfig(server: PostgresServer, database = 'postgres'): pg.ClientConfig {
  return {
    host: server.host,
    port: server.port,
    user: server.superuser,
    password: server.superuserPassword,
    database,
  };
}

/**
 * Runs `fn` with a connected superuser client, then closes it.
 *
 * @example
 * const rows = await asSuperuser(server, async (c) => (await c.query('SELECT 1 AS one')).rows);
 */
export async function asSuperuser<T>(
  server: PostgresServer,
  fn: (client: pg.Client) => Promise<T>,
  database = 'postgres',
): Promise<T> {
  const client = new pg.Client(superuserConfig(server, database));
  client.on('error', () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface LoginRole {
  name: string;
  password: string;
  /** Also create this database, owned by the role (if it does not exist yet). */
  database?: string;
  /** Grant CREATEDB. */
  createDb?: boolean;
}

/**
 * Creates a LOGIN role whose password is sent as a SCRAM-SHA-256 verifier (utility statements take
 * no bind parameters, so the name and verifier are escaped with pg's functions). Returns the verifier.
 *
 * @example
 * await createLoginRole(server, { name: 'app', password: 'pw', database: 'business_intelligence' });
 */
export async function createLoginRole(server: PostgresServer, role: LoginRole): Promise<string> {
  const verifier = scramVerifier(role.password);
  const sql = `CREATE ROLE ${pg.escapeIdentifier(role.name)} LOGIN PASSWORD ${pg.escapeLiteral(verifier)}`;
  await asSuperuser(server, (client) => client.query(role.createDb ? `${sql} CREATEDB` : sql));
  if (role.database !== undefined) await createDatabase(server, role.database, role.name);
  return verifier;
}

/**
 * Creates database `name` owned by role `owner`, unless a database of that name exists.
 *
 * @example
 * await createDatabase(server, 'business_intelligence', 'app');
 */
export async function createDatabase(server: PostgresServer, name: string, owner: string): Promise<void> {
  await asSuperuser(server, async (client) => {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)} OWNER ${pg.escapeIdentifier(owner)}`);
    }
  });
}
