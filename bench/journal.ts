/**
 * `npm run bench -- journal [--targets 1000]`: the journal's cost alone, the old whole-file rewrite
 * against the append-only log (src/engine/journal-log.ts), for a rotation of N PostgreSQL roles with
 * 8 journal writes per role (stage begin, staging, a fact, stage end, test begin and end, finish
 * begin and end: what src/engine/run.ts writes). Each is run on the state directory's usual disk
 * (os.tmpdir()) and on tmpfs (/dev/shm, where an fsync costs nothing: what is left is rekey's CPU).
 * Writes bench/results/journal.json and journal.md.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { JOURNAL_VERSION, type Journal, JournalStore, markStep } from '../src/engine/journal.js';
import type { StepRef } from '../src/engine/plan.js';
import { ensurePrivateDir, writeFileAtomic } from '../src/lib/fsx.js';
import { makeOwnedDir, removeOwnedDir } from '../src/lib/owned-dir.js';
import { describeMachine, machineLine } from './machine.js';
import { say, table, writeResults } from './report.js';

const WRITES_PER_TARGET = 8;

interface Row {
  implementation: 'old: whole file rewritten' | 'new: append-only log';
  where: string;
  targets: number;
  writes: number;
  ms: number;
  msPerWrite: number;
  bytesWritten: number;
  fsyncs: number;
  finalFileBytes: number;
}

/** A journal as prepare writes it for `n` PostgreSQL roles (src/engine/engine.ts). */
function journalOf(n: number): Journal {
  const keys = Array.from({ length: n }, (_, i) => `PG_ROLE_${String(i).padStart(4, '0')}_PASSWORD`);
  const steps: Journal['steps'] = [{ id: 'prepare', phase: 'prepare', state: 'done' }];
  for (const phase of ['stage', 'test'] as const)
    for (const k of keys) steps.push({ id: `${phase}:${k}`, phase, target: k, state: 'pending' });
  for (const id of ['commit', 'deploy', 'verify'] as const) steps.push({ id, phase: id, state: 'pending' });
  for (const k of keys) steps.push({ id: `finish:${k}`, phase: 'finish', target: k, state: 'pending' });
  return {
    version: JOURNAL_VERSION,
    id: '20261205T030000Z-bench0',
    kind: 'rotate',
    trigger: 'scheduled',
    status: 'running',
    createdAt: new Date().toISOString(),
    pid: process.pid,
    host: os.hostname(),
    store: { type: 'env-file', envFile: '/srv/app/.env', backupPath: '/srv/app/.env.backup' },
    purgeSessions: false,
    steps,
    targets: keys.map((k) => ({
      key: k,
      type: 'postgres',
      state: 'pending',
      old: { [k]: 'o'.repeat(40) },
      new: { [k]: 'n'.repeat(40) },
    })),
    meta: { ticket: 'BENCH-1', operator: 'bench' },
  };
}

/** The 8 changes of each target, in the engine's order; each is followed by one write. */
function* changes(j: Journal): Generator<void> {
  const step = (phase: StepRef['phase'], target: string): StepRef => ({
    id: `${phase}:${target}`,
    phase,
    target,
  });
  for (const t of j.targets) {
    markStep(j, step('stage', t.key), 'running');
    yield;
    t.state = 'staging';
    yield;
    t.facts = { ...t.facts, login: 'checked' };
    yield;
    markStep(j, step('stage', t.key), 'done');
    t.state = 'staged';
    yield;
    markStep(j, step('test', t.key), 'running');
    yield;
    markStep(j, step('test', t.key), 'done');
    t.state = 'tested';
    yield;
  }
  for (const t of j.targets) {
    markStep(j, step('finish', t.key), 'running');
    yield;
    markStep(j, step('finish', t.key), 'done');
    t.state = 'finished';
    yield;
  }
}

/** The write of the previous release (src/engine/journal.ts before version 3), counted. */
function oldWriter(file: string) {
  const stats = { bytes: 0, syncs: 0 };
  return {
    stats,
    async write(j: Journal) {
      await ensurePrivateDir(path.dirname(file));
      const text = `${JSON.stringify(j, null, 2)}\n`;
      await writeFileAtomic(file, text, { mode: 0o600, forceMode: true });
      stats.bytes += Buffer.byteLength(text);
      // The temp file's fsync and the directory's.
      stats.syncs += 2;
    },
  };
}

async function run(impl: Row['implementation'], base: string, where: string, n: number): Promise<Row> {
  const root = await makeOwnedDir('rekey-bench-journal-', { base });
  try {
    const dir = path.join(root, '.rekey');
    const j = journalOf(n);
    const store = new JournalStore(dir);
    const old = oldWriter(store.file);
    const write = impl.startsWith('old') ? (x: Journal) => old.write(x) : (x: Journal) => store.write(x);
    await write(j); // prepare's write, not counted
    const before = impl.startsWith('old') ? { ...old.stats } : { ...store.log.stats };
    let writes = 0;
    const started = performance.now();
    for (const _ of changes(j)) {
      await write(j);
      writes++;
    }
    const ms = performance.now() - started;
    const after = impl.startsWith('old') ? old.stats : store.log.stats;
    // The log folds to what was written (checked outside the timing).
    if (!impl.startsWith('old')) {
      const back = await new JournalStore(dir).read();
      if (JSON.stringify(back) !== JSON.stringify(j))
        throw new Error('the log does not fold to the journal written');
    }
    return {
      implementation: impl,
      where,
      targets: n,
      writes,
      ms: Math.round(ms),
      msPerWrite: Number((ms / writes).toFixed(3)),
      bytesWritten: after.bytes - before.bytes,
      fsyncs: after.syncs - before.syncs,
      finalFileBytes: (await fs.stat(store.file)).size,
    };
  } finally {
    await removeOwnedDir(root);
  }
}

/**
 * @example
 * await benchJournal({ targets: 1000 });
 */
export async function benchJournal(options: { targets: number }): Promise<Row[]> {
  const machine = await describeMachine();
  const places: Array<[string, string]> = [[os.tmpdir(), `${os.tmpdir()} (disk)`]];
  if (await fs.stat('/dev/shm').catch(() => undefined)) places.push(['/dev/shm', '/dev/shm (tmpfs)']);
  const rows: Row[] = [];
  for (const [base, where] of places) {
    for (const impl of ['new: append-only log', 'old: whole file rewritten'] as const) {
      say(`journal: ${impl}, ${options.targets} targets × ${WRITES_PER_TARGET} writes, ${where}`);
      const row = await run(impl, base, where, options.targets);
      say(`  ${row.ms} ms, ${row.bytesWritten} bytes, ${row.fsyncs} fsyncs`);
      rows.push(row);
    }
  }
  const md = [
    `# Journal writes: ${options.targets} targets × ${WRITES_PER_TARGET} writes`,
    '',
    `${machineLine(machine)} \`npm run bench -- journal --targets ${options.targets}\` (bench/journal.ts).`,
    "Timed: the writes after prepare's, in the engine's order; bytes are what each write sent to the",
    "file (the old release: the whole journal each time); fsyncs count the directory's too.",
    '',
    table(
      ['implementation', 'where', 'writes', 'total ms', 'ms/write', 'bytes written', 'fsyncs', 'file at end'],
      rows.map((r) => [
        r.implementation,
        r.where,
        r.writes,
        r.ms,
        r.msPerWrite,
        r.bytesWritten,
        r.fsyncs,
        r.finalFileBytes,
      ]),
    ),
    '',
  ].join('\n');
  await writeResults('journal', { machine, writesPerTarget: WRITES_PER_TARGET, rows }, md);
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { targets: { type: 'string', default: '1000' } } });
  benchJournal({ targets: Number(values.targets) }).then(
    () => process.exit(0),
    (e: unknown) => {
      say(`bench failed: ${(e as Error).stack ?? String(e)}`);
      process.exit(1);
    },
  );
}
