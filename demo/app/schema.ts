/**
 * The demo app's tables and seed data: `users` (username, scrypt password hash) with the demo user
 * `analyst`, and `reports` with a few rows. Idempotent: re-running updates the analyst's password and
 * adds reports only to an empty table. Run it as the role that should own the tables (the app role,
 * or the group role both alternating login roles are members of).
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { envValues, parseEnv } from '../../src/envfile/index.js';
import { hashPassword } from './passwords.js';

/** The demo user's name. */
export const DEMO_USER = 'analyst';
/** The env file key holding the demo user's password (written by the demo, never rotated). */
export const DEMO_USER_PASSWORD_KEY = 'DEMO_USER_PASSWORD';

/** The demo user's password: given, or read from {@link DEMO_USER_PASSWORD_KEY} of an env file. */
export type SeedOptions = ({ envFile: string } | { analystPassword: string }) & {
  /** Roles to grant SELECT on both tables (e.g. a group role the app's login roles are members of). */
  grantTo?: readonly string[];
};

const REPORTS: ReadonlyArray<readonly [title: string, period: string, revenue: number]> = [
  ['Revenue by region', '2025-Q1', 1_250_000],
  ['Revenue by region', '2025-Q2', 1_410_500],
  ['Churn by plan', '2025-Q2', 37_200],
  ['New customers by channel', '2025-Q3', 982_300],
];

const DDL = `
CREATE TABLE IF NOT EXISTS users (
  id serial PRIMARY KEY,
  username text NOT NULL UNIQUE,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS reports (
  id serial PRIMARY KEY,
  title text NOT NULL,
  period text NOT NULL,
  revenue integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);`;

/**
 * Creates the tables (when missing), sets the analyst's password hash and adds the demo reports to an
 * empty `reports` table, in one transaction. The password reaches PostgreSQL only as a scrypt hash.
 *
 * @example
 * await seed(client, { envFile: '/tmp/demo/.env.production' });
 * await seed(client, { analystPassword: 'pw', grantTo: ['bi_app'] });
 */
export async function seed(client: pg.ClientBase, options: SeedOptions): Promise<{ reports: number }> {
  const password =
    'analystPassword' in options ? options.analystPassword : await readDemoPassword(options.envFile);
  const hash = await hashPassword(password);
  await client.query('BEGIN');
  try {
    await client.query(DDL);
    await client.query(
      `INSERT INTO users (username, password_hash) VALUES ($1, $2)
       ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash`,
      [DEMO_USER, hash],
    );
    const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM reports');
    if ((rows[0]?.n ?? 0) === 0) {
      for (const [title, period, revenue] of REPORTS) {
        await client.query('INSERT INTO reports (title, period, revenue) VALUES ($1, $2, $3)', [
          title,
          period,
          revenue,
        ]);
      }
    }
    for (const role of options.grantTo ?? []) {
      await client.query(`GRANT SELECT ON users, reports TO ${client.escapeIdentifier(role)}`);
    }
    const count = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM reports');
    await client.query('COMMIT');
    return { reports: count.rows[0]?.n ?? 0 };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}

async function readDemoPassword(envFile: string): Promise<string> {
  const value = envValues(parseEnv(await readFile(envFile, 'utf8'), envFile)).get(DEMO_USER_PASSWORD_KEY);
  if (value === undefined || value === '')
    throw new Error(`${envFile}: ${DEMO_USER_PASSWORD_KEY} is missing or empty`);
  return value;
}
