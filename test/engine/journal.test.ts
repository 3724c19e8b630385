/**
 * The append-only journal (version 3): what `read()` folds equals what was written after every
 * write of a rotation's realistic sequence; a crash mid-append (the file cut at any byte of its last
 * record, or that record's bytes garbled) reads as the state before that record; damage before the
 * last record is ERR_JOURNAL_CORRUPT naming the record; a version-2 journal (one JSON document, left
 * by a killed older release) is still read and replaced by a log at the next write; 0600 / 0700.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  JOURNAL_VERSION,
  type Journal,
  JournalStore,
  markStep,
  type StepState,
} from '../../src/engine/journal.js';
import type { StepRef } from '../../src/engine/plan.js';
import { makeOwnedDir, removeOwnedDir } from '../../src/lib/owned-dir.js';
import { readPendingNames } from '../../src/policy/pending.js';
import { record } from '../helpers/resilience.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await removeOwnedDir(d);
});

async function stateDir(): Promise<string> {
  const root = await makeOwnedDir('rekey-journal-', { base: process.env.REKEY_STACK_TMPDIR || os.tmpdir() });
  dirs.push(root);
  return path.join(root, '.rekey');
}

const KEYS = Array.from({ length: 12 }, (_, i) => `PG_ROLE_${i}_PASSWORD`);

/** A journal as `prepare` writes it (src/engine/engine.ts): every step pending, every target too. */
function newJournal(): Journal {
  const steps: Journal['steps'] = [{ id: 'prepare', phase: 'prepare', state: 'done' }];
  for (const k of KEYS) steps.push({ id: `stage:${k}`, phase: 'stage', target: k, state: 'pending' });
  for (const k of KEYS) steps.push({ id: `test:${k}`, phase: 'test', target: k, state: 'pending' });
  steps.push({ id: 'commit', phase: 'commit', state: 'pending' });
  steps.push({ id: 'deploy', phase: 'deploy', state: 'pending' });
  steps.push({ id: 'verify', phase: 'verify', state: 'pending' });
  for (const k of KEYS) steps.push({ id: `finish:${k}`, phase: 'finish', target: k, state: 'pending' });
  return {
    version: JOURNAL_VERSION,
    id: '20261205T020000Z-abc123',
    kind: 'rotate',
    trigger: 'scheduled',
    status: 'running',
    createdAt: '2026-12-05T02:00:00.000Z',
    pid: 4242,
    host: 'bench-host',
    store: { type: 'env-file', envFile: '/srv/app/.env', backupPath: '/srv/app/.env.backup-x' },
    backupFile: '/srv/app/.env.backup-x',
    purgeSessions: false,
    steps,
    targets: KEYS.map((k, i) => ({
      key: k,
      type: 'postgres',
      state: 'pending',
      old: { [k]: `old-${i}-ü€` },
      new: { [k]: `new-${i}-"quoted"\n` },
    })),
    meta: { ticket: 'CHG-1', operator: 'ops@example.com' },
  };
}

const ref = (id: string): StepRef => {
  const [phase, target] = id.split(':') as [StepRef['phase'], string | undefined];
  return target === undefined ? { id, phase } : { id, phase, target };
};

/**
 * A rotation's writes, in the engine's order (src/engine/run.ts `step`, engine.ts `runStep`,
 * deploy-step.ts, rollback.ts): each entry changes the journal, then it is written.
 */
function sequence(j: Journal): Array<() => void> {
  const out: Array<() => void> = [];
  const mark = (id: string, state: StepState, error?: { code: string; message: string }) =>
    out.push(() => void markStep(j, ref(id), state, error));
  const target = (k: string) => j.targets.find((t) => t.key === k)!;
  for (const k of KEYS) {
    mark(`stage:${k}`, 'running');
    out.push(() => {
      target(k).state = 'staging';
    });
    out.push(() => {
      target(k).facts = { ...target(k).facts, service: 'new' };
    });
    out.push(() => {
      markStep(j, ref(`stage:${k}`), 'done');
      target(k).state = 'staged';
    });
  }
  for (const k of KEYS) {
    mark(`test:${k}`, 'running');
    out.push(() => {
      markStep(j, ref(`test:${k}`), 'done');
      target(k).state = 'tested';
    });
  }
  mark('commit', 'running');
  mark('commit', 'done');
  mark('deploy', 'running');
  out.push(() => {
    j.command = {
      pid: 999,
      procStart: '12345',
      label: 'deploy',
      startedAt: '2026-12-05T02:00:05.000Z',
      timeoutMs: 60_000,
    };
  });
  out.push(() => void delete j.command);
  mark('deploy', 'done');
  mark('verify', 'running');
  mark('verify', 'failed', { code: 'ERR_VERIFY_FAILED', message: 'verification failed: app health' });
  // The rollback: status, failure, new steps appended, targets reverted (rollback.ts).
  out.push(() => {
    j.status = 'rolling-back';
    j.failure = { step: 'verify', code: 'ERR_VERIFY_FAILED', message: 'verification failed: app health' };
  });
  mark('restore', 'running');
  mark('restore', 'done');
  for (const k of [...KEYS].reverse()) {
    mark(`revert:${k}`, 'running');
    out.push(() => {
      target(k).state = 'reverting';
    });
    out.push(() => {
      markStep(j, ref(`revert:${k}`), 'done');
      target(k).state = 'reverted';
    });
  }
  out.push(() => {
    j.pid = 4343;
    j.host = 'other-host';
  });
  // A step run again after a crash (recover): its end and error cleared by markStep.
  mark('verify', 'running');
  mark('verify', 'done');
  out.push(() => {
    j.meta = { ...j.meta, breakGlass: 'incident 7' };
  });
  return out;
}

/** What `read()` must give back for `j`: its JSON, as written. */
const asWritten = (j: Journal): unknown => JSON.parse(JSON.stringify(j));

/** A journal written with every change of {@link sequence}, the file's bytes before its last record. */
async function written(dir: string) {
  const store = new JournalStore(dir);
  const j = newJournal();
  await store.write(j);
  const changes = sequence(j);
  for (const change of changes.slice(0, -1)) {
    change();
    await store.write(j);
  }
  const before = asWritten(j);
  const prefix = await fs.readFile(store.file);
  changes.at(-1)!();
  await store.write(j);
  return { store, j, before, prefix, full: await fs.readFile(store.file) };
}

describe('append-only journal', () => {
  it('folds to exactly the journal written, after every write of a rotation with a rollback', async () => {
    const dir = await stateDir();
    const store = new JournalStore(dir);
    const j = newJournal();
    await store.write(j);
    expect(await new JournalStore(dir).read()).toEqual(asWritten(j));
    let size = (await fs.stat(store.file)).size;
    const changes = sequence(j);
    for (const [i, change] of changes.entries()) {
      change();
      await store.write(j);
      expect(await new JournalStore(dir).read(), `after change ${i + 1}`).toEqual(asWritten(j));
      // Appended, never rewritten: each record holds only what changed (a step, a target, a field).
      const now = (await fs.stat(store.file)).size;
      expect(now - size, `record ${i + 2}`).toBeLessThan(600);
      size = now;
    }
    expect(store.log.stats).toMatchObject({ snapshots: 1, records: changes.length + 1 });
    // A write with nothing changed writes nothing.
    await store.write(j);
    expect((await fs.stat(store.file)).size).toBe(size);
    expect(store.log.stats.records).toBe(changes.length + 1);
  });

  it('a file cut at every byte of its last record reads as the state before that record', async () => {
    const dir = await stateDir();
    const { before, prefix, full, j } = await written(dir);
    // The last write appended one record after the bytes that were there.
    expect(full.subarray(0, prefix.length).equals(prefix)).toBe(true);
    expect(full.length).toBeGreaterThan(prefix.length + 20);
    const file = path.join(dir, 'journal.json');
    const wrong: number[] = [];
    for (let cut = prefix.length; cut < full.length; cut++) {
      await fs.writeFile(file, full.subarray(0, cut));
      const read = await new JournalStore(dir).read().catch((e: Error) => e.message);
      if (JSON.stringify(read) !== JSON.stringify(before)) wrong.push(cut);
    }
    record({
      kind: 'crash',
      suite: 'journal file (append-only log)',
      point: `mid-append: cut at each of the ${full.length - prefix.length} bytes of the last record`,
      target: 'journal.json',
      outcome:
        wrong.length === 0 ? 'read as the state before the record' : `wrong at bytes ${wrong.join(', ')}`,
      converged: wrong.length === 0,
    });
    expect(wrong).toEqual([]);
    await fs.writeFile(file, full.subarray(0, prefix.length + 1));
    expect(await new JournalStore(dir).read()).toEqual(before);
    await fs.writeFile(file, full);
    expect(await new JournalStore(dir).read()).toEqual(asWritten(j));
  });

  it('a last record with any byte garbled (never acknowledged) is ignored', async () => {
    const dir = await stateDir();
    const { before, prefix, full } = await written(dir);
    const file = path.join(dir, 'journal.json');
    // Every byte but the final newline (its loss is a cut, above), to a value it never holds.
    const wrong: number[] = [];
    for (let at = prefix.length; at < full.length - 1; at++) {
      const bad = Buffer.from(full);
      bad[at] = bad[at] === 0x7e ? 0x21 : 0x7e;
      await fs.writeFile(file, bad);
      const read = await new JournalStore(dir).read().catch((e: Error) => e.message);
      if (JSON.stringify(read) !== JSON.stringify(before)) wrong.push(at);
    }
    record({
      kind: 'crash',
      suite: 'journal file (append-only log)',
      point: `mid-append: each byte of the last record garbled (${full.length - 1 - prefix.length} cases)`,
      target: 'journal.json',
      outcome:
        wrong.length === 0 ? 'read as the state before the record' : `wrong at bytes ${wrong.join(', ')}`,
      converged: wrong.length === 0,
    });
    expect(wrong).toEqual([]);
  });

  it('the next process replaces a torn tail by a snapshot before it appends', async () => {
    const dir = await stateDir();
    const { before, prefix, full } = await written(dir);
    const file = path.join(dir, 'journal.json');
    await fs.writeFile(file, full.subarray(0, prefix.length + 7));
    // `rekey recover`: read, change, write, change, write.
    const recover = new JournalStore(dir);
    const j = (await recover.read())!;
    expect(j).toEqual(before);
    j.status = 'rolling-back';
    await recover.write(j);
    markStep(j, ref('finish:PG_ROLE_0_PASSWORD'), 'running');
    await recover.write(j);
    expect(recover.log.stats).toMatchObject({ snapshots: 1, records: 2 });
    expect(await new JournalStore(dir).read()).toEqual(asWritten(j));
  });

  it('a damaged record before the last is ERR_JOURNAL_CORRUPT naming it', async () => {
    const dir = await stateDir();
    const { full } = await written(dir);
    const file = path.join(dir, 'journal.json');
    const lines = full.toString('utf8').split('\n');
    expect(lines.length).toBeGreaterThan(5);
    // Record 3: one character of its JSON changed (a flipped bit on disk).
    const damaged = [...lines];
    damaged[2] = damaged[2]!.replace('"put"', '"pit"');
    expect(damaged[2]).not.toBe(lines[2]);
    await fs.writeFile(file, damaged.join('\n'));
    const offset = Buffer.byteLength(`${lines.slice(0, 2).join('\n')}\n`);
    await expect(new JournalStore(dir).read()).rejects.toMatchObject({
      code: 'ERR_JOURNAL_CORRUPT',
      message: `${file}: record 3 (at byte ${offset}) is damaged (checksum mismatch); it is not the last, so no crash explains it`,
    });
    // A record cut short in the middle (bytes lost) is damage too.
    const cut = [...lines];
    cut[1] = cut[1]!.slice(0, 30);
    await fs.writeFile(file, cut.join('\n'));
    await expect(new JournalStore(dir).read()).rejects.toMatchObject({
      code: 'ERR_JOURNAL_CORRUPT',
      message: expect.stringContaining(': record 2 (at byte '),
    });
    // status (rekey serve) reads the same file: the same refusal.
    await expect(readPendingNames(file)).rejects.toMatchObject({ code: 'ERR_JOURNAL_CORRUPT' });
  });

  it('reads a version-2 journal (one JSON document) and replaces it by a log at the next write', async () => {
    const dir = await stateDir();
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const v2 = { ...newJournal(), version: 2 };
    const file = path.join(dir, 'journal.json');
    await fs.writeFile(file, `${JSON.stringify(v2, null, 2)}\n`, { mode: 0o600 });
    expect((await readPendingNames(file)).keys).toEqual(KEYS);
    const store = new JournalStore(dir);
    const j = (await store.read())!;
    expect(j).toEqual({ ...(asWritten(v2 as unknown as Journal) as object), version: JOURNAL_VERSION });
    markStep(j, ref(`stage:${KEYS[0]}`), 'running');
    await store.write(j);
    expect((await fs.readFile(file, 'utf8'))[0]).toMatch(/[0-9]/);
    expect(await new JournalStore(dir).read()).toEqual(asWritten(j));
  });

  it('is 0600 in a 0700 directory, from the first write on', async () => {
    const dir = await stateDir();
    const store = new JournalStore(dir);
    const j = newJournal();
    const old = process.umask(0o022);
    try {
      await store.write(j);
      expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
      expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
      markStep(j, ref('commit'), 'running');
      await store.write(j);
      expect((await fs.stat(store.file)).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it('a file changed under a store (another process wrote it) gets a snapshot, not a change after it', async () => {
    const dir = await stateDir();
    const a = new JournalStore(dir);
    const j = newJournal();
    await a.write(j);
    const other = newJournal();
    other.status = 'rolling-back';
    await new JournalStore(dir).write(other);
    markStep(j, ref('commit'), 'running');
    await a.write(j);
    expect(a.log.stats.snapshots).toBe(2);
    expect(await new JournalStore(dir).read()).toEqual(asWritten(j));
  });

  it('status reads the names of a log without its values', async () => {
    const dir = await stateDir();
    const { store, j } = await written(dir);
    const names = await readPendingNames(store.file);
    expect(names).toMatchObject({ id: j.id, kind: 'rotate', keys: KEYS });
    expect(JSON.stringify(names)).not.toContain('new-0');
    expect(JSON.stringify(names)).not.toContain('old-0');
  });

  it('close() archives without values and removes the log; the next write starts a new one', async () => {
    const dir = await stateDir();
    const { store, j } = await written(dir);
    const archived = await store.close(j, 'rolled-back');
    expect(await fs.readFile(archived, 'utf8')).not.toContain('new-0');
    expect(await store.read()).toBeUndefined();
    const next = { ...newJournal(), id: 'next' };
    await store.write(next);
    expect(await new JournalStore(dir).read()).toEqual(asWritten(next));
  });
});
