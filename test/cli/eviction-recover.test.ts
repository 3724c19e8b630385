/**
 * Issue 12, findings after recover: a compromise rotation killed (kill -9) after PostgreSQL's finish
 * and before the report, then `rekey recover`: the finish that removed and found things ran in the
 * dead process, so the recovering one looks again, read-only (`checkFootholds`), and says it is a
 * fresh check, instead of "could not check". Live services (real PostgreSQL and Redis, the Grafana
 * stand-in), built CLI. Fails on the code before (PostgreSQL was "could not check: … found nothing
 * to report in this process"). Then, on the same stack, `rekey verify --trigger compromise` names a
 * LOGIN role the attacker added (exit 1, ERR_FOOTHOLD_FOUND) and changes nothing (fails on the code
 * before: verify had no --trigger).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asSuperuser } from '../../demo/stack/postgres-roles.js';
import { scramVerifier } from '../../src/targets/postgres/index.js';
import { record } from '../helpers/resilience.js';
import { type LiveStack, makeLiveStack } from '../live/live-stack.js';

type Finding = { service: string; foothold: string; status: string; text: string };

describe('eviction report after a crash at the finish boundary, then recover', { timeout: 300_000 }, () => {
  let s: LiveStack;
  beforeAll(async () => {
    s = await makeLiveStack();
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('PostgreSQL is looked at afresh, not "could not check"', async () => {
    // One target at a time: with concurrent finishes (the default, `concurrency: 8`) PostgreSQL's
    // finish may still run when the last one begins, and then recover finishes it itself (its own
    // report, not a fresh check). This case is about a finish that ran to its end in the dead process.
    await fs.appendFile(path.join(s.dir, 'rekey.yaml'), '\nconcurrency: 1\n');
    // The last finish step: every other target finished in the process that dies.
    const plan = JSON.parse((await s.run(['plan', '--trigger', 'compromise', '--json'])).stdout) as {
      steps: Array<{ id: string }>;
    };
    const finishes = plan.steps.map((x) => x.id).filter((id) => id.startsWith('finish:'));
    const last = finishes.at(-1) ?? '';
    expect(finishes.indexOf('finish:POSTGRES_PASSWORD')).toBeLessThan(finishes.length - 1);

    const r = await s.run(['rotate', '--trigger', 'compromise', '--yes'], {
      env: { REKEY_CRASH_AT: `${last}@begin` },
    });
    expect(r.signal, r.stderr).toBe('SIGKILL');
    const rec = await s.run(['recover', '--yes', '--json']);
    expect(rec.code, rec.stderr).toBe(0);
    const doc = JSON.parse(rec.stdout);
    const pg = (doc.eviction as Finding[]).filter((f) => f.service.startsWith('PostgreSQL'));
    record({
      kind: 'eviction',
      suite: 'live, kill -9 before the last finish, then recover (built CLI)',
      service: 'PostgreSQL',
      foothold: 'LOGIN roles nobody configured (fresh check after recover)',
      result: 'reported',
      ok:
        pg.length > 0 &&
        pg.every((f) => f.text.includes('(fresh check: ')) &&
        pg.find((f) => f.foothold === 'users')?.status === 'clean',
    });
    expect(pg.length, JSON.stringify(doc.eviction)).toBeGreaterThan(0);
    for (const f of pg) expect(f.text).toContain('(fresh check: finish ran in another process');
    expect(pg.find((f) => f.foothold === 'users')?.status).toBe('clean');
    expect(pg.find((f) => f.foothold === 'sessions')?.status).toBe('clean');
    expect(JSON.stringify(pg)).not.toContain('found nothing to report in this process');
    await s.assertConsistent();
  });

  it('verify --trigger compromise names the LOGIN role an attacker added, exits 1, changes nothing', async () => {
    await asSuperuser(s.pg, (c) =>
      c.query(
        `CREATE ROLE backdoor LOGIN PASSWORD ${pg.escapeLiteral(scramVerifier('attacker-pw-0123456789'))}`,
      ),
    );
    const envBefore = await fs.readFile(s.envFile, 'utf8');
    const r = await s.run(['verify', '--trigger', 'compromise', '--json']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('ERR_FOOTHOLD_FOUND');
    const doc = JSON.parse(r.stdout);
    const users = (doc.eviction as Finding[]).filter(
      (f) => f.service.startsWith('PostgreSQL') && f.foothold === 'users',
    );
    expect(users.map((f) => f.status)).toEqual(['reported']);
    expect(users[0]?.text).toContain('backdoor');
    expect(doc.checks.every((c: { ok: boolean }) => c.ok)).toBe(true);
    // Nothing changed: the role is still there, the env file is the same, the stack consistent.
    const left = await asSuperuser(
      s.pg,
      async (c) => (await c.query("SELECT 1 FROM pg_roles WHERE rolname = 'backdoor'")).rowCount,
    );
    expect(left).toBe(1);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(envBefore);
    await s.assertConsistent();
  });
});
