/**
 * The audit record of a rotation is written BEFORE its journal is closed: a failed write keeps the
 * journal (exit 4, `--json` says the record is pending) and `rekey recover` writes it exactly once; a
 * kill -9 between the record and the close converges to exactly one record.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { readAuditLog } from '../../src/governance/audit/index.js';
import { type Stack, useStacks } from '../engine/stack.js';
import { record } from '../helpers/resilience.js';

const stack = useStacks();
const SUITE = 'audit record before the journal is closed';

const auditFile = (s: Stack) => path.join(s.dir, 'rekey-audit.jsonl');
const journalFile = (s: Stack) => path.join(s.stateDir, 'journal.json');

/** The records that end rotation `id`. */
async function closing(s: Stack, id: string) {
  return (await readAuditLog(auditFile(s))).filter(
    (r) => r.rotationId === id && (r.outcome === 'rotated' || r.outcome === 'rolled-back'),
  );
}

describe('audit record before the journal is closed', () => {
  it.each([
    { name: 'a rotation', env: {} as Record<string, string>, outcome: 'rotated' },
    { name: 'a rolled-back rotation', env: { REKEY_FAIL_AT: 'verify' }, outcome: 'rolled-back' },
  ])(
    '$name whose record cannot be written exits 4 with the record pending; recover writes it once',
    async ({ env, outcome }) => {
      const s = await stack();
      // The audit file is a directory: every append fails (EISDIR).
      await fs.mkdir(auditFile(s));
      const r = await s.run(['rotate', '--yes', '--json'], { env });
      const out = JSON.parse(r.stdout);
      // A "failure" row means rolled back; a rotation that completed but could not be audited is not
      // one (it exits 4 and recover writes the record: asserted below, not a row of that table).
      if (outcome === 'rolled-back') {
        record({
          kind: 'failure',
          suite: SUITE,
          point: `audit append (${outcome})`,
          cause: 'audit file is a directory (EISDIR)',
          exit: r.code,
          rolledBack: (out.error?.details ?? []).includes('the rotate itself ended: rolled-back'),
        });
      }
      expect(r.code, r.stderr).toBe(4);
      expect(out).toMatchObject({
        ok: false,
        outcome: 'needs-attention',
        error: { code: 'ERR_AUDIT_WRITE' },
      });
      expect(out.error.message).toMatch(/audit record .* could not be written: .*EISDIR.*pending/);
      expect(out.error.details).toContain(`the rotate itself ended: ${outcome}`);
      expect(r.stderr).toContain('rekey recover');
      // The journal is kept for recover.
      expect(existsSync(journalFile(s))).toBe(true);

      // Still broken: recover says so again (exit 4), keeps the journal.
      const still = await s.run(['recover', '--yes', '--json']);
      expect(still.code, still.stderr).toBe(4);
      expect(JSON.parse(still.stdout).error.code).toBe('ERR_AUDIT_WRITE');
      expect(existsSync(journalFile(s))).toBe(true);

      await fs.rmdir(auditFile(s));
      const rec = await s.run(['recover', '--yes', '--json']);
      expect(rec.code, rec.stderr).toBe(0);
      expect(JSON.parse(rec.stdout).outcome).toBe(outcome);
      expect(existsSync(journalFile(s))).toBe(false);
      const again = await s.run(['recover', '--yes', '--json']);
      expect(JSON.parse(again.stdout).outcome).toBe('nothing-to-do');
      const records = await closing(s, out.id);
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({ kind: 'recover', outcome });
      await s.assertConsistent();
      expect((await s.run(['audit', 'verify'])).code).toBe(0);
    },
  );

  it.each([
    { env: {} as Record<string, string>, outcome: 'rotated' },
    { env: { REKEY_FAIL_AT: 'verify' }, outcome: 'rolled-back' },
  ])(
    'kill -9 between the record ($outcome) and the close: recover converges with exactly one record',
    async ({ env, outcome }) => {
      const s = await stack();
      const r = await s.run(['rotate', '--yes'], { env: { ...env, REKEY_CRASH_AT: 'close@begin' } });
      expect(r.signal).toBe('SIGKILL');
      const written = await readAuditLog(auditFile(s));
      expect(written).toHaveLength(1);
      expect(written[0]).toMatchObject({ kind: 'rotate', outcome });
      const id = written[0]!.rotationId!;
      expect(existsSync(journalFile(s))).toBe(true);

      const rec = await s.run(['recover', '--yes', '--json']);
      const again = await s.run(['recover', '--yes', '--json']);
      const records = await closing(s, id);
      record({
        kind: 'crash',
        suite: SUITE,
        point: `close@begin (${outcome})`,
        target: '(audit)',
        outcome: rec.code === 0 ? JSON.parse(rec.stdout).outcome : `exit ${rec.code}`,
        converged: rec.code === 0 && records.length === 1 && again.stdout.includes('"nothing-to-do"'),
      });
      expect(rec.code, rec.stderr).toBe(0);
      expect(JSON.parse(rec.stdout).outcome).toBe(outcome);
      expect(existsSync(journalFile(s))).toBe(false);
      expect(JSON.parse(again.stdout).outcome).toBe('nothing-to-do');
      expect(records).toHaveLength(1);
      expect(await readAuditLog(auditFile(s))).toHaveLength(1);
      await s.assertConsistent();
      expect((await s.run(['audit', 'verify'])).code).toBe(0);
    },
  );
});
