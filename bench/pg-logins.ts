/**
 * What a PostgreSQL login costs on this machine, measured the way rekey logs in (a new `pg.Client`,
 * connect, end): one after another, and 8 at a time (rekey's default concurrency) for the logins per
 * second the two cores allow. Once with SCRAM-SHA-256 (what rekey's targets use) and once with
 * `trust` (no password at all: the cost of a new server process alone). The scale benchmark divides
 * its logins per role by this to state the floor of a rotation's time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import pg from 'pg';
import type { PostgresServer } from '../demo/stack/postgres.js';
import { asSuperuser } from '../demo/stack/postgres-roles.js';
import { ALPHANUMERIC, generate } from '../src/lib/generate.js';
import { scramVerifier } from '../src/targets/postgres/scram.js';
import { round } from './stats.js';

export interface LoginCost {
  /** ms per login, one after another. */
  readonly serialMs: number;
  /** Logins per second with 8 at a time. */
  readonly perSecond8: number;
}

export interface LoginCosts {
  readonly scram: LoginCost;
  readonly trust: LoginCost;
}

async function cost(server: PostgresServer, user: string, password: string): Promise<LoginCost> {
  const login = async () => {
    const c = new pg.Client({ host: server.host, port: server.port, database: 'postgres', user, password });
    await c.connect();
    await c.end();
  };
  for (let i = 0; i < 10; i++) await login(); // warm up
  const serial = 100;
  let t = performance.now();
  for (let i = 0; i < serial; i++) await login();
  const serialMs = (performance.now() - t) / serial;
  const parallel = 400;
  let left = parallel;
  t = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (left-- > 0) await login();
    }),
  );
  return { serialMs: round(serialMs), perSecond8: round(parallel / ((performance.now() - t) / 1000)) };
}

/**
 * Creates two roles (one with a SCRAM verifier, one that pg_hba lets in by `trust`, first line),
 * measures both, then removes the trust line again.
 *
 * @example
 * const costs = await measureLogins(server); // { scram: { serialMs: 26, perSecond8: 54 }, trust: ... }
 */
export async function measureLogins(server: PostgresServer): Promise<LoginCosts> {
  const password = generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC });
  await asSuperuser(server, async (c) => {
    await c.query(
      `CREATE ROLE bench_login_scram LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(password))}`,
    );
    await c.query('CREATE ROLE bench_login_trust LOGIN');
  });
  const hba = `${server.dataDir}/pg_hba.conf`;
  const original = await readFile(hba, 'utf8');
  // Rewritten in place: the file keeps the server's owner and mode.
  const reload = () => asSuperuser(server, (c) => c.query('SELECT pg_reload_conf()'));
  await writeFile(hba, `host postgres bench_login_trust 127.0.0.1/32 trust\n${original}`);
  await reload();
  try {
    return {
      scram: await cost(server, 'bench_login_scram', password),
      trust: await cost(server, 'bench_login_trust', ''),
    };
  } finally {
    await writeFile(hba, original);
    await reload();
  }
}
