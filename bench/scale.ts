/**
 * `npm run bench -- scale`: one rotation of N PostgreSQL roles (N = 10, 100, 1000 by default), each
 * its own `type: postgres` secret in one rekey.yaml, on a throwaway server; no deploy, no verify
 * list, so the time is rekey's per-secret work (check the current password, stage, test on a new
 * connection, commit, verify old rejected) plus a fixed start-up. Reports wall time, time per role
 * and the marginal cost of one more role. `--runs` (default 3) rotations per size, median reported.
 */
import { writeFile } from 'node:fs/promises';
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
    `${passwords.map((pw, i) => `${envKey(i + 1)}=${pw}`).join('\n')}\n`,
    { mode: 0o600 },
  );
  await writeFile(path.join(dir, '.gitignore'), '.env.production\n.env.production.backup-*\n.rekey/\n');
  const secrets = passwords.map(
    (_, i) =>
      `  - { key: ${envKey(i + 1)}, type: postgres, host: 127.0.0.1, port: ${server.port}, user: ${name(size, i + 1)}, database: postgres, sslmode: disable }`,
  );
  await writeFile(
    path.join(dir, 'rekey.yaml'),
    `# scale benchmark: ${size} PostgreSQL roles, one secret each\nenvFile: .env.production\nsecrets:\n${secrets.join('\n')}\n`,
  );
}

/**
 * @example
 * await benchScale({ sizes: [10, 100, 1000], runs: 3 });
 */
export async function benchScale(opts: ScaleOptions): Promise<void> {
  const machine = await describeMachine();
  const server = await startPostgres();
  const results: SizeResult[] = [];
  try {
    for (const size of opts.sizes) {
      const dir = await makeOwnedDir(`rekey-bench-scale-${size}-`);
      try {
        await writeStack(dir, server, size, await createRoles(server, size));
        const runsMs: number[] = [];
        let last: Array<{ id: string; ms: number }> = [];
        for (let i = 0; i < opts.runs; i++) {
          const run = await rekey(['rotate', '--trigger', 'scheduled', '--yes', '--json'], dir);
          if (run.code !== 0)
            throw new Error(`${size} roles: rotation exited ${run.code}: ${run.stderr.slice(-2000)}`);
          runsMs.push(run.wallMs);
          last = stepsOf(run.json);
          say(
            `  ${size} roles #${i + 1}: ${Math.round(run.wallMs)} ms (${round(run.wallMs / size)} ms per role)`,
          );
        }
        const byPhase: Record<string, number> = {};
        for (const s of last) {
          const kind = s.id.split(/[:/]/)[0] ?? s.id;
          byPhase[kind] = round((byPhase[kind] ?? 0) + s.ms);
        }
        const wallMs = median(runsMs);
        results.push({
          roles: size,
          runsMs: runsMs.map(Math.round),
          wallMs: round(wallMs),
          perRoleMs: round(wallMs / size),
          steps: last.length,
          byPhase,
        });
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
  );
  const files = await writeResults('scale', { machine, options: opts, results }, md);
  say(`wrote ${files.join(', ')}`);
}
