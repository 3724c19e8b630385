/**
 * `npm run bench -- scale`: one rotation of N PostgreSQL roles (N = 10, 100, 1000 by default), each
 * its own `type: postgres` secret in one rekey.yaml, on a throwaway server; no deploy, no verify
 * list, so the time is rekey's per-secret work (check the current password, stage, test on a new
 * connection, commit, verify old rejected) plus a fixed start-up. Reports wall time, time per role
 * and the marginal cost of one more role. `--runs` (default 3) rotations per size, median reported.
 *
 * Each size runs twice: each role changing its own password (no `admin`), then with `admin` (the
 * superuser sets them). The server logs its connections (`log_connections`), so the table also has
 * the logins per role each rotation made; and the cost of one login on this machine is measured
 * (bench/pg-logins.ts): with both, the floor of the rotation's time.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { type PostgresServer, startPostgres } from '../demo/stack/postgres.js';
import { asSuperuser } from '../demo/stack/postgres-roles.js';
import { ALPHANUMERIC, generate } from '../src/lib/generate.js';
import { makeOwnedDir, removeOwnedDir } from '../src/lib/owned-dir.js';
import { scramVerifier } from '../src/targets/postgres/scram.js';
import { baselineResults } from './baseline.js';
import { rekey, stepsOf } from './cli.js';
import { describeMachine } from './machine.js';
import { type LoginCosts, measureLogins } from './pg-logins.js';
import { say, writeResults } from './report.js';
import { renderScale, type SizeResult } from './scale-report.js';
import { median, round } from './stats.js';

export interface ScaleOptions {
  readonly sizes: readonly number[];
  readonly runs: number;
}

const name = (size: number, i: number) => `bench_${size}_r${String(i).padStart(4, '0')}`;
const envKey = (i: number) => `PG_R${String(i).padStart(4, '0')}_PASSWORD`;

/** Creates `size` login roles, each with a SCRAM verifier; returns their passwords. */
async function createRoles(server: PostgresServer, size: number): Promise<string[]> {
  const passwords = Array.from({ length: size }, () =>
    generate({ kind: 'chars', length: 32, alphabet: ALPHANUMERIC }),
  );
  await asSuperuser(server, async (c) => {
    for (let i = 0; i < size; i += 100) {
      const sql = passwords
        .slice(i, i + 100)
        .map(
          (pw, j) =>
            `CREATE ROLE ${pg.escapeIdentifier(name(size, i + j + 1))} LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier(pw))};`,
        )
        .join('\n');
      await c.query(sql);
    }
  });
  return passwords;
}

async function writeStack(
  dir: string,
  server: PostgresServer,
  size: number,
  passwords: string[],
): Promise<void> {
  await writeFile(
    path.join(dir, '.env.production'),
    `PG_ADMIN_PASSWORD=${server.superuserPassword}\n${passwords.map((pw, i) => `${envKey(i + 1)}=${pw}`).join('\n')}\n`,
    { mode: 0o600 },
  );
  await writeFile(path.join(dir, '.gitignore'), '.env.production\n.env.production.backup-*\n.rekey/\n');
  await writeConfig(dir, server, size, false);
}

/** rekey.yaml: one secret per role; with `admin`, the superuser sets the passwords. */
async function writeConfig(dir: string, server: PostgresServer, size: number, admin: boolean): Promise<void> {
  const by = admin ? ', admin: { user: postgres, passwordKey: PG_ADMIN_PASSWORD }' : '';
  const secrets = Array.from(
    { length: size },
    (_, i) =>
      `  - { key: ${envKey(i + 1)}, type: postgres, host: 127.0.0.1, port: ${server.port}, user: ${name(size, i + 1)}, database: postgres, sslmode: disable${by} }`,
  );
  await writeFile(
    path.join(dir, 'rekey.yaml'),
    `# scale benchmark: ${size} PostgreSQL roles, one secret each${admin ? ', set by the admin' : ''}\nenvFile: .env.production\nsecrets:\n${secrets.join('\n')}\n`,
  );
}

/** The login attempts (accepted or refused) the server has logged so far (`log_connections`). */
async function loginsSoFar(server: PostgresServer): Promise<number> {
  return (await readFile(server.logFile, 'utf8')).split('connection received:').length - 1;
}

/**
 * @example
 * await benchScale({ sizes: [10, 100, 1000], runs: 3 });
 */
export async function benchScale(opts: ScaleOptions): Promise<void> {
  const machine = await describeMachine();
  const server = await startPostgres({ settings: { log_connections: 'on' } });
  const results: SizeResult[] = [];
  let logins: LoginCosts;
  try {
    logins = await measureLogins(server);
    say(
      `  a login: SCRAM ${logins.scram.serialMs} ms (${logins.scram.perSecond8}/s 8 at a time), trust ${logins.trust.serialMs} ms (${logins.trust.perSecond8}/s)`,
    );
    for (const size of opts.sizes) {
      const dir = await makeOwnedDir(`rekey-bench-scale-${size}-`);
      try {
        await writeStack(dir, server, size, await createRoles(server, size));
        for (const admin of [false, true]) {
          await writeConfig(dir, server, size, admin);
          results.push(await rotations(dir, server, size, admin, opts.runs));
        }
      } finally {
        await removeOwnedDir(dir);
      }
    }
  } finally {
    await server.stop();
  }
  const md = renderScale(
    machine,
    opts,
    results,
    (await baselineResults<{ results: SizeResult[] }>('scale'))?.results,
    logins,
  );
  const files = await writeResults('scale', { machine, options: opts, logins, results }, md);
  say(`wrote ${files.join(', ')}`);
}

/** `runs` rotations of the stack in `dir`; the median, the last run's step times, logins per role. */
async function rotations(
  dir: string,
  server: PostgresServer,
  size: number,
  admin: boolean,
  runs: number,
): Promise<SizeResult> {
  const runsMs: number[] = [];
  let last: Array<{ id: string; ms: number }> = [];
  let loginsPerRole = 0;
  const label = `${size} roles${admin ? ' (admin)' : ''}`;
  for (let i = 0; i < runs; i++) {
    const before = await loginsSoFar(server);
    const run = await rekey(['rotate', '--trigger', 'scheduled', '--yes', '--json'], dir);
    if (run.code !== 0) throw new Error(`${label}: rotation exited ${run.code}: ${run.stderr.slice(-2000)}`);
    loginsPerRole = round(((await loginsSoFar(server)) - before) / size);
    runsMs.push(run.wallMs);
    last = stepsOf(run.json);
    say(
      `  ${label} #${i + 1}: ${Math.round(run.wallMs)} ms (${round(run.wallMs / size)} ms per role, ${loginsPerRole} logins per role)`,
    );
  }
  const byPhase: Record<string, number> = {};
  for (const s of last) {
    const kind = s.id.split(/[:/]/)[0] ?? s.id;
    byPhase[kind] = round((byPhase[kind] ?? 0) + s.ms);
  }
  const wallMs = median(runsMs);
  return {
    roles: size,
    ...(admin ? { admin: true } : {}),
    runsMs: runsMs.map(Math.round),
    wallMs: round(wallMs),
    perRoleMs: round(wallMs / size),
    loginsPerRole,
    steps: last.length,
    byPhase,
  };
}
