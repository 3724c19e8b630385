/**
 * The managed stores end to end, through the built CLI, each against its stand-in running as its own
 * process: a rotation writes the store and verifies; a failing verify rolls the store back; another
 * writer between preflight and commit makes the rotation roll back and keeps its value; throttling is
 * retried; kill -9 at every step boundary converges with `rekey recover` (for SSM also between two
 * parameter writes); and no value reaches the output, the state dir, the audit log or the stand-ins'
 * request logs other than the store writes themselves.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { planSteps } from '../../engine/plan-points.js';
import { findLeak, leakOccurrences } from '../../helpers/leak-forms.js';
import { record, targetOf } from '../../helpers/resilience.js';
import {
  filesUnder,
  INITIAL,
  KEYS,
  makeStoreStack,
  STORE_TYPES,
  type StoreStack,
  WRITE_OP,
} from './store-stack.js';

const managed = (v: Record<string, string | undefined>) => Object.fromEntries(KEYS.map((k) => [k, v[k]]));
const OLD = managed(INITIAL);

describe.each(STORE_TYPES)('store %s through the CLI', (type) => {
  const suite = `store ${type} (stand-in, built CLI)`;
  const stacks: StoreStack[] = [];
  /** Every value the store held: what the canary scan looks for. */
  const seen = new Set<string>(KEYS.map((k) => INITIAL[k]!));
  const open = async () => {
    const s = await makeStoreStack(type);
    stacks.push(s);
    return s;
  };
  const remember = async (s: StoreStack) => {
    const v = await s.values();
    for (const k of KEYS) if (v[k]) seen.add(v[k]!);
    return v;
  };

  afterAll(async () => {
    // The canary scan: CLI output, state dirs (journal history, audit log), stand-in request logs
    // except the store writes (which must carry the values).
    const texts: string[] = [];
    for (const s of stacks) {
      for (const r of s.results) texts.push(r.stdout, r.stderr);
      texts.push(...(await filesUnder(path.join(s.dir, '.rekey'))));
      if (s.standIn.exitCode === null)
        texts.push(...(await s.log()).filter((l) => !l.write).map((l) => `${l.path} ${l.body}`));
      await s.stop();
    }
    const places = texts.length;
    const n = leakOccurrences(seen, texts);
    record({
      kind: 'canary',
      suite,
      scope: 'output, state dir, audit log, stand-in request log (reads)',
      values: seen.size,
      places,
      occurrences: n,
    });
    expect(findLeak(seen, texts)).toBeUndefined();
  });

  it('rotates: the store holds new values (other fields kept), plan names the store, verify passes', async () => {
    const s = await open();
    // Before any rotation, rollback has nothing to return to (no backup file, nothing in the history).
    const rb = await s.run(['rollback', '--yes']);
    const unchanged = JSON.stringify(await s.values()) === JSON.stringify(INITIAL);
    record({
      kind: 'bad-input',
      suite,
      case: 'rollback before any rotation (nothing in the journal history)',
      exit: rb.code,
      code: 'ERR_BACKUP_NOT_FOUND',
      unchanged,
    });
    expect(rb.code).toBe(2);
    expect(rb.stderr).toMatch(/ERR_BACKUP_NOT_FOUND: no finished rotation of .* in the journal history/);
    expect(rb.stderr).toMatch(/Pass --backup PATH/);
    expect(unchanged).toBe(true);
    const plan = await s.run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).store.type).toBe(type);
    expect(JSON.parse(plan.stdout).envFile).toBeUndefined();
    const human = await s.run(['plan']);
    expect(human.stdout + human.stderr).toContain(', store ');
    const r = await s.run(['rotate', '--yes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/NodeVersionSupportWarning|Warning:/);
    const v = await remember(s);
    for (const k of KEYS) expect(v[k]).not.toBe(INITIAL[k]);
    expect(v.UNMANAGED).toBe('kept-as-is');
    const verify = await s.run(['verify', '--json']);
    expect(verify.code, verify.stderr).toBe(0);
    const status = await s.run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
  });

  it('a failing verify rolls back: the store holds the old values again', async () => {
    const s = await open();
    const r = await s.run(['rotate', '--yes'], { REKEY_FAIL_AT: 'verify' });
    record({
      kind: 'failure',
      suite,
      point: 'verify',
      cause: 'injected failure (REKEY_FAIL_AT)',
      exit: r.code,
      rolledBack: r.code === 1 && JSON.stringify(managed(await s.values())) === JSON.stringify(OLD),
    });
    expect(r.code, r.stderr).toBe(1);
    expect(managed(await remember(s))).toEqual(OLD);
    expect((await s.run(['recover', '--yes', '--json'])).stdout).toContain('nothing-to-do');
  });

  it('another writer between preflight and commit: rolled back, its value kept', async () => {
    const s = await open();
    const pause = path.join(s.dir, 'pause');
    const run = s.start(['rotate', '--yes'], { REKEY_PAUSE_AT: 'commit@begin', REKEY_PAUSE_FILE: pause });
    for (let i = 0; i < 600 && !(await fs.stat(pause).catch(() => undefined)); i++)
      await new Promise((r) => setTimeout(r, 50));
    await s.otherWrite('JWT_SECRET', 'other-writer-value-0001');
    await fs.rm(pause);
    const r = await run.done;
    const v = await remember(s);
    const ok =
      r.code === 1 &&
      v.JWT_SECRET === 'other-writer-value-0001' &&
      v.API_SECRET_KEY === INITIAL.API_SECRET_KEY;
    record({
      kind: 'concurrency',
      suite,
      case: 'another writer between preflight and commit',
      ok,
      detail: ok
        ? "rotation rolled back (exit 1); the other writer's value kept"
        : `exit ${r.code}; store ${JSON.stringify(Object.keys(v))}`,
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/ERR_STORE_CONFLICT|changed|another writer|check-and-set/i);
    expect(v.JWT_SECRET).toBe('other-writer-value-0001');
    expect(v.API_SECRET_KEY).toBe(INITIAL.API_SECRET_KEY);
    const again = await s.run(['recover', '--yes', '--json']);
    expect(again.code, again.stderr).toBe(0);
  });

  it('throttled writes are retried with backoff, then the rotation succeeds', async () => {
    const s = await open();
    await s.fault({ kind: 'throttle', op: WRITE_OP[type], count: 2 });
    const r = await s.run(['rotate', '--yes']);
    const v = await remember(s);
    const throttled = (await s.log()).filter((l) => l.fault === 'throttle').length;
    expect(throttled).toBe(2);
    expect(r.code, r.stderr).toBe(0);
    for (const k of KEYS) expect(v[k]).not.toBe(INITIAL[k]);
  });

  it('kill -9 at every step boundary, then recover converges (and a second recover does nothing)', async () => {
    const s = await open();
    const steps = planSteps(await s.run(['plan', '--json']));
    const points = steps.flatMap((st) => [`${st.id}@begin`, `${st.id}@end`]);
    const committedFrom = points.indexOf('commit@end');
    expect(committedFrom).toBeGreaterThan(0);
    for (const [i, point] of points.entries()) {
      const before = managed(await remember(s));
      const r = await s.run(['rotate', '--yes'], { REKEY_CRASH_AT: point });
      const rec = await s.run(['recover', '--yes', '--json']);
      const after = managed(await remember(s));
      const again = await s.run(['recover', '--yes', '--json']);
      let outcome = `exit ${rec.code}`;
      try {
        outcome = JSON.parse(rec.stdout).outcome as string;
      } catch {}
      const expected =
        i >= committedFrom
          ? KEYS.every((k) => after[k] !== before[k])
          : JSON.stringify(after) === JSON.stringify(before);
      const converged =
        r.signal === 'SIGKILL' && rec.code === 0 && expected && again.stdout.includes('nothing-to-do');
      record({ kind: 'crash', suite, point, target: targetOf(point), outcome, converged });
      expect(r.signal, `${point}: ${r.stderr}`).toBe('SIGKILL');
      expect(rec.code, `${point}: ${rec.stderr}`).toBe(0);
      expect(expected, `${point}: ${outcome}`).toBe(true);
      expect(again.stdout, point).toContain('nothing-to-do');
    }
  }, 600_000);
});

describe('aws-ssm: kill -9 between two parameter writes', () => {
  it('recover converges from the subset written (either way, never half)', async () => {
    const s = await makeStoreStack('aws-ssm');
    try {
      // The first put of the rotation is written, every later one fails (a 500 the SDK retries):
      // queued before the rotation starts, so no timing decides how many were written. Kill the
      // process once the second put was refused: one parameter written, the other not.
      await s.fault({ kind: 'error500', op: 'PutParameter', count: 100, after: 1 });
      const run = s.start(['rotate', '--yes']);
      const pid = run.child.pid!;
      while (!(await s.log()).some((l) => l.fault === 'error500') && run.child.exitCode === null)
        await new Promise((r) => setTimeout(r, 10));
      process.kill(pid, 'SIGKILL');
      const r = await run.done;
      await s.clearFaults();
      const mid = managed(await s.values());
      const written = KEYS.filter((k) => mid[k] !== INITIAL[k]);
      const rec = await s.run(['recover', '--yes', '--json']);
      const after = managed(await s.values());
      const allOld = KEYS.every((k) => after[k] === INITIAL[k]);
      const allNew = KEYS.every((k) => after[k] !== INITIAL[k]);
      let outcome = `exit ${rec.code}`;
      try {
        outcome = JSON.parse(rec.stdout).outcome as string;
      } catch {}
      record({
        kind: 'crash',
        suite: 'store aws-ssm (stand-in, built CLI)',
        point: 'commit (between two PutParameter)',
        target: '(commit)',
        outcome,
        converged: r.signal === 'SIGKILL' && written.length === 1 && rec.code === 0 && (allOld || allNew),
      });
      expect(r.signal).toBe('SIGKILL');
      expect(written).toHaveLength(1);
      expect(rec.code, rec.stderr).toBe(0);
      expect(allOld || allNew).toBe(true);
      expect((await s.run(['recover', '--yes', '--json'])).stdout).toContain('nothing-to-do');
    } finally {
      await s.stop();
    }
  }, 120_000);
});
