/**
 * `npm run bench -- floor`: what each piece of a PostgreSQL role's rotation costs on this machine,
 * measured alone, so the scale benchmark's time at 1000 roles can be split into what limits it:
 * - a login (a new connection and its SCRAM exchange; and with `trust`, the new server process
 *   alone), one after another and 8 at a time (bench/pg-logins.ts);
 * - an `ALTER ROLE … PASSWORD '<verifier>'` on an open connection (PostgreSQL's own work);
 * - computing a SCRAM-SHA-256 verifier in Node (4096 PBKDF2 iterations);
 * - appending one journal record and `fdatasync` (the journal's durability, per record) in the
 *   temp folder, where the benchmarks' state directories are.
 * Writes bench/results/floor.json and floor.md.
 */
import { closeSync, fdatasyncSync, openSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startPostgres } from '../demo/stack/postgres.js';
import { asSuperuser } from '../demo/stack/postgres-roles.js';
import { makeOwnedDir, removeOwnedDir } from '../src/lib/owned-dir.js';
import { scramVerifier } from '../src/targets/postgres/scram.js';
import { describeMachine, machineLine } from './machine.js';
import { measureLogins } from './pg-logins.js';
import { say, table, writeResults } from './report.js';
import { median, round } from './stats.js';

/** ms per call of `fn`, median of `rounds` rounds of `n` calls. */
async function perCall(n: number, fn: () => unknown, rounds = 3): Promise<number> {
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    for (let i = 0; i < n; i++) await fn();
    ms.push((performance.now() - t) / n);
  }
  return round(median(ms));
}

/**
 * @example
 * await benchFloor();
 */
export async function benchFloor(): Promise<void> {
  const machine = await describeMachine();
  const server = await startPostgres();
  let rows: Array<[string, number, string]>;
  let logins: Awaited<ReturnType<typeof measureLogins>>;
  try {
    logins = await measureLogins(server);
    const alterMs = await asSuperuser(server, async (c) => {
      await c.query("CREATE ROLE bench_floor LOGIN PASSWORD 'x'");
      let i = 0;
      return perCall(100, () =>
        c.query(`ALTER ROLE bench_floor PASSWORD ${pg.escapeLiteral(scramVerifier(`pw-${i++}`))}`),
      );
    });
    const verifierMs = await perCall(100, () => scramVerifier('a-password-of-32-characters-long'));
    const dir = await makeOwnedDir('rekey-bench-floor-', { base: os.tmpdir() });
    let syncMs: number;
    try {
      const fd = openSync(path.join(dir, 'journal.json'), 'a', 0o600);
      const record = Buffer.from(`${JSON.stringify({ put: { steps: [{ id: 'x'.repeat(200) }] } })}\n`);
      try {
        syncMs = await perCall(200, () => {
          writeSync(fd, record);
          fdatasyncSync(fd);
        });
      } finally {
        closeSync(fd);
      }
    } finally {
      await removeOwnedDir(dir);
    }
    rows = [
      [
        'a login, SCRAM-SHA-256, one after another',
        logins.scram.serialMs,
        `${logins.scram.perSecond8} per second 8 at a time`,
      ],
      [
        'a login, trust (the new server process alone)',
        logins.trust.serialMs,
        `${logins.trust.perSecond8} per second 8 at a time`,
      ],
      ['ALTER ROLE … PASSWORD on an open connection (verifier included)', alterMs, 'PostgreSQL'],
      ['a SCRAM-SHA-256 verifier computed in Node (4096 iterations)', verifierMs, 'Node, on the main thread'],
      [`a journal record appended and fdatasync'd (${os.tmpdir()})`, syncMs, 'the disk'],
    ];
  } finally {
    await server.stop();
  }
  const md = [
    "# floor: what the pieces of a role's rotation cost here",
    '',
    machineLine(machine),
    '',
    'Each measured alone (median of 3 rounds of 100 or 200, after a warm-up for the logins). See bench/README.md and docs/performance.md for how the scale benchmark adds them up.',
    '',
    table(['piece', 'ms each', 'what it waits for'], rows),
    '',
  ].join('\n');
  const files = await writeResults('floor', { machine, logins, rows }, md);
  say(`wrote ${files.join(', ')}`);
}
