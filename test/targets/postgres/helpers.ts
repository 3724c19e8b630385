/**
 * Helpers for the PostgreSQL target tests: a throwaway server with every statement logged and
 * pg_stat_statements loaded, logins that report the server's answer, and a canary list of every
 * password a test used (none may ever appear in the server's log or pg_stat_statements).
 */
import pg from 'pg';
import type { PostgresServer } from '../../../demo/stack/postgres.js';
import { asSuperuser } from '../../../demo/stack/postgres-roles.js';
import { type SecretConfigOf, secretSchema, type Trigger } from '../../../src/config/schema.js';
import { ALPHANUMERIC, generate } from '../../../src/lib/generate.js';
import { type Logger, silentLogger } from '../../../src/lib/log.js';
import type { Target, TargetContext, Values } from '../../../src/targets/types.js';
import { usePostgres } from '../../helpers/services.js';

/** A server logging every statement, with pg_stat_statements (extension created in `postgres`). */
export function useLoggedPostgres(): () => PostgresServer {
  return usePostgres({
    logStatementAll: true,
    settings: { shared_preload_libraries: "'pg_stat_statements'" },
  });
}

export async function enableStatStatements(server: PostgresServer): Promise<void> {
  await asSuperuser(server, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
}

/** Every statement text pg_stat_statements holds, across databases. */
export async function statStatements(server: PostgresServer): Promise<string[]> {
  return asSuperuser(server, async (c) =>
    (await c.query<{ query: string }>('SELECT query FROM pg_stat_statements')).rows.map((r) => r.query),
  );
}

/** Passwords used by a test file: each one a canary for the log checks. */
export class Canaries {
  readonly all: string[] = [];
  /** A new 32-character password, remembered. */
  next(): string {
    return this.add(generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC }));
  }
  add(value: string): string {
    if (!this.all.includes(value)) this.all.push(value);
    return value;
  }
  /** The canaries found in `text`. */
  foundIn(text: string): string[] {
    return this.all.filter((v) => text.includes(v));
  }
}

export interface Recorded extends Logger {
  readonly lines: { level: string; text: string }[];
}

/** A logger that keeps every line. */
export function recordingLogger(): Recorded {
  const lines: { level: string; text: string }[] = [];
  const at = (level: string) => (text: string) => void lines.push({ level, text });
  return { lines, info: at('info'), warn: at('warn'), error: at('error'), debug: at('debug') };
}

export function ctxOf(trigger: Trigger = 'scheduled', log: Logger = silentLogger): TargetContext {
  return { trigger, log };
}

/** A postgres secret for `server`, with the schema's defaults applied. */
export function pgSecret(
  server: PostgresServer,
  fields: Partial<SecretConfigOf<'postgres'>> & { key: string; user: string; database: string },
): SecretConfigOf<'postgres'> {
  const parsed = secretSchema.parse({
    type: 'postgres',
    host: server.host,
    port: server.port,
    sslmode: 'disable',
    ...fields,
  });
  if (parsed.type !== 'postgres') throw new Error('not a postgres secret');
  return parsed;
}

function clientFor(server: PostgresServer, user: string, password: string, database: string): pg.Client {
  const client = new pg.Client({ host: server.host, port: server.port, user, password, database });
  client.on('error', () => {});
  return client;
}

/** One login with SELECT 1: 'ok', or the SQLSTATE the server answered. */
export async function attempt(
  server: PostgresServer,
  user: string,
  password: string,
  database: string,
): Promise<string> {
  const client = clientFor(server, user, password, database);
  try {
    await client.connect();
    const { rows } = await client.query('SELECT 1 AS one');
    return rows.length === 1 ? 'ok' : `${rows.length} rows`;
  } catch (err) {
    return (err as { code?: string }).code ?? String(err);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The error a session received while idle (the server terminated it). */
const idleErrors = new WeakMap<pg.Client, unknown>();

/** An open session (the caller ends it). */
export async function openSession(
  server: PostgresServer,
  user: string,
  password: string,
  database: string,
): Promise<pg.Client> {
  const client = clientFor(server, user, password, database);
  client.on('error', (err) => {
    if (!idleErrors.has(client)) idleErrors.set(client, err);
  });
  await client.connect();
  return client;
}

/** 'ok' when the session still answers SELECT 1, else the error's code (57P01 when terminated). */
export async function alive(client: pg.Client): Promise<string> {
  const codeOf = (err: unknown) => (err as { code?: string }).code;
  // The server's FATAL message may still be on its way: give it a moment to arrive.
  await new Promise((resolve) => setTimeout(resolve, 50));
  try {
    await client.query('SELECT 1');
    return 'ok';
  } catch (err) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return codeOf(err) ?? codeOf(idleErrors.get(client)) ?? (err as Error).message;
  }
}

/** A role's attributes as the superuser sees them. */
export async function roleRow(
  server: PostgresServer,
  role: string,
): Promise<
  { valid_until: string | null; has_password: boolean; login: boolean; inherit: boolean } | undefined
> {
  return asSuperuser(server, async (c) => {
    const { rows } = await c.query(
      `SELECT rolvaliduntil::text AS valid_until, rolpassword IS NOT NULL AS has_password,
              rolcanlogin AS login, rolinherit AS inherit
         FROM pg_authid WHERE rolname = $1`,
      [role],
    );
    return rows[0];
  });
}

/** Direct memberships of `role`. */
export async function memberships(server: PostgresServer, role: string): Promise<string[]> {
  return asSuperuser(server, async (c) => {
    const { rows } = await c.query<{ g: string }>(
      `SELECT g.rolname AS g FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
         JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1 ORDER BY 1`,
      [role],
    );
    return rows.map((r) => r.g);
  });
}

/**
 * One rotation of `t` as the engine runs its steps (check the current value, stage, test, after the
 * deploy, finish), the new password of `key` remembered as a canary; resolves with the new values.
 *
 * @example
 * env = await rotateOnce(target(), 'compromise', env, { key: 'POSTGRES_PASSWORD', canaries });
 */
export async function rotateOnce(
  t: Target,
  trigger: Trigger,
  current: Values,
  { key, canaries }: { key: string; canaries: Canaries },
): Promise<Values> {
  const ctx = ctxOf(trigger);
  const next = t.generate(ctx, current);
  canaries.add(next[key] ?? '');
  await t.checkCurrent(ctx, current);
  await t.stage(ctx, current, next);
  await t.test(ctx, next);
  await t.afterDeploy?.(ctx, current, next);
  await t.finish(ctx, current, next);
  return next;
}
