/**
 * A crash while several targets are mid-step (issue 17, bounded concurrency): twelve PostgreSQL
 * roles rotated four at a time; the ALTER ROLEs are held on a lock the test takes on pg_authid. The
 * first four are let through (those roles now hold their new password), the next four held, and the
 * whole process group of `rekey rotate` is killed then (SIGKILL, children unreaped, as a machine
 * dies) with four stages in flight inside the server. `rekey recover` must leave every role accepting
 * exactly what the env file says; a second recover finds nothing to do; the stack keeps rotating.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import type { PostgresServer } from '../../demo/stack/postgres.js';
import { asSuperuser, superuserConfig } from '../../demo/stack/postgres-roles.js';
import { ALPHANUMERIC, generate } from '../../src/lib/generate.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { scramVerifier } from '../../src/targets/postgres/scram.js';
import { record } from '../helpers/resilience.js';
import { usePostgres } from '../helpers/services.js';
import { CLI, type CliResult, startCli } from './stack.js';

const ROLES = 12;
const CONCURRENCY = 4;
const server = usePostgres();
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => removeOwnedDir(d)));
});

const role = (i: number) => `conc_r${String(i).padStart(2, '0')}`;
const key = (i: number) => `PG_R${String(i).padStart(2, '0')}_PASSWORD`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function stack(s: PostgresServer) {
  const dir = await makeOwnedDir('rekey-crash-conc-', { base: process.env.REKEY_STACK_TMPDIR || undefined });
  dirs.push(dir);
  const passwords = Array.from({ length: ROLES }, () =>
    generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC }),
  );
  await asSuperuser(s, async (c) => {
    for (let i = 0; i < ROLES; i++)
      await c.query(
        `DROP ROLE IF EXISTS ${role(i)}; CREATE ROLE ${role(i)} LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(passwords[i]!))}`,
      );
  });
  const envFile = path.join(dir, '.env.production');
  await fs.writeFile(envFile, `${passwords.map((pw, i) => `${key(i)}=${pw}`).join('\n')}\n`, { mode: 0o600 });
  await fs.writeFile(path.join(dir, '.gitignore'), '.env.production\n.env.production.backup-*\n.rekey/\n');
  const secrets = passwords.map(
    (_, i) =>
      `  - { key: ${key(i)}, type: postgres, host: 127.0.0.1, port: ${s.port}, user: ${role(i)}, database: postgres, sslmode: disable }`,
  );
  await fs.writeFile(
    path.join(dir, 'rekey.yaml'),
    `envFile: .env.production\nconcurrency: ${CONCURRENCY}\nsecrets:\n${secrets.join('\n')}\n`,
  );
  const env = { ...process.env, NO_COLOR: '1' } as Record<string, string>;
  delete env.REKEY_CRASH_AT;
  const run = async (args: string[]): Promise<CliResult> => startCli(args, dir, env).done;
  const envValues = async () =>
    new Map(
      (await fs.readFile(envFile, 'utf8'))
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => l.split('=', 2) as [string, string]),
    );
  /** The roles that do not accept the env file's password (a single-password role has one). */
  const mismatched = async () => {
    const values = await envValues();
    const bad: string[] = [];
    for (let i = 0; i < ROLES; i++) {
      const c = new pg.Client({
        host: '127.0.0.1',
        port: s.port,
        database: 'postgres',
        user: role(i),
        password: values.get(key(i)) ?? '',
      });
      c.on('error', () => {});
      try {
        await c.connect();
      } catch {
        bad.push(role(i));
      } finally {
        await c.end().catch(() => {});
      }
    }
    return bad;
  };
  return { dir, envFile, passwords, env, run, envValues, mismatched };
}

/** The rekey backends waiting on a lock (the held ALTER ROLEs). */
async function waitingAlters(admin: pg.Client): Promise<number> {
  const r = await admin.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'rekey' AND wait_event_type = 'Lock'",
  );
  return Number(r.rows[0]?.n ?? 0);
}

async function rekeyBackends(admin: pg.Client): Promise<number> {
  const r = await admin.query<{ n: string }>(
    "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = 'rekey'",
  );
  return Number(r.rows[0]?.n ?? 0);
}

describe('kill -9 of the process group while several stages are in flight', () => {
  it(`${CONCURRENCY} stages done and ${CONCURRENCY} in flight inside the server when the process group dies; recover converges`, async () => {
    const s = await stack(server());
    const locker = new pg.Client(superuserConfig(server()));
    locker.on('error', () => {});
    await locker.connect();
    const watcher = new pg.Client(superuserConfig(server()));
    watcher.on('error', () => {});
    await watcher.connect();
    try {
      // Every ALTER ROLE needs ROW EXCLUSIVE on pg_authid: SHARE holds them; logins still work.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE pg_authid IN SHARE MODE');
      const child = spawn(process.execPath, [CLI, 'rotate', '--yes'], {
        cwd: s.dir,
        env: s.env,
        detached: true, // its own process group, killed whole below
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (b) => {
        stderr += b;
      });
      const exited = new Promise<NodeJS.Signals | null>((r) => child.on('close', (_c, sig) => r(sig)));
      const held = async () => {
        let n = 0;
        for (let t = 0; t < 600 && n < CONCURRENCY; t++) {
          await sleep(100);
          n = await waitingAlters(watcher);
        }
        return n;
      };
      expect(await held(), `stages in flight inside the server (${stderr})`).toBe(CONCURRENCY);
      // Let these through (they commit, their targets go on to test), and hold the next ones.
      await locker.query('COMMIT');
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE pg_authid IN SHARE MODE');
      expect(await held(), `the next stages in flight (${stderr})`).toBe(CONCURRENCY);
      process.kill(-(child.pid as number), 'SIGKILL');
      expect(await exited).toBe('SIGKILL');
      await locker.query('COMMIT');
      for (let t = 0; t < 100 && (await rekeyBackends(watcher)) > 0; t++) await sleep(100);
      const changed = (await s.mismatched()).length;

      const rec = await s.run(['recover', '--yes', '--json']);
      const outcome = /"outcome": "([a-z-]+)"/.exec(rec.stdout)?.[1] ?? `exit ${rec.code}`;
      const bad = await s.mismatched();
      const again = await s.run(['recover', '--yes', '--json']);
      record({
        kind: 'crash',
        suite: `concurrency ${CONCURRENCY}: ${ROLES} PostgreSQL roles, process group killed with ${CONCURRENCY} stages in flight`,
        point: `${CONCURRENCY} × stage:PG_Rnn (ALTER ROLE held in the server)`,
        target: `${CONCURRENCY} PostgreSQL roles`,
        outcome: `${outcome} (${changed} role(s) held the new password at the kill)`,
        converged: rec.code === 0 && bad.length === 0 && again.stdout.includes('"nothing-to-do"'),
      });
      expect(rec.code, rec.stderr).toBe(0);
      expect(outcome).toBe('rolled-back');
      expect(changed, 'roles holding the new password when rekey died').toBeGreaterThanOrEqual(CONCURRENCY);
      expect(bad, 'roles not accepting the env file value').toEqual([]);
      expect([...(await s.envValues()).values()]).toEqual(s.passwords);
      expect(JSON.parse(again.stdout).outcome).toBe('nothing-to-do');

      // And the stack keeps rotating, concurrently.
      const next = await s.run(['rotate', '--yes']);
      expect(next.code, next.stderr).toBe(0);
      expect(await s.mismatched()).toEqual([]);
      const after = await s.envValues();
      for (let i = 0; i < ROLES; i++) expect(after.get(key(i))).not.toBe(s.passwords[i]);
    } finally {
      await locker.end().catch(() => {});
      await watcher.end().catch(() => {});
    }
  }, 240_000);
});
