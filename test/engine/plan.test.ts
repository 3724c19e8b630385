import { describe, expect, it } from 'vitest';
import { buildPlan, type PlanSecret } from '../../src/engine/plan.js';
import { RekeyError } from '../../src/lib/errors.js';

const s = (key: string, overlap: boolean, extra: Partial<PlanSecret> = {}): PlanSecret => ({
  key,
  type: 'x',
  overlap,
  fileOnly: false,
  hasAfterDeploy: false,
  actions: [],
  ...extra,
});

describe('buildPlan', () => {
  const secrets = [
    s('JWT_SECRET', true, { fileOnly: true }),
    s('POSTGRES_PASSWORD', false, { hasAfterDeploy: true }),
    s('REDIS_PASSWORD', true),
  ];

  it('stages overlap targets first and single-credential targets last, each tested right after', () => {
    const plan = buildPlan({ secrets, trigger: 'scheduled', verifyChecks: 1, deploy: { command: 'true' } });
    expect(plan.steps.map((x) => x.id)).toEqual([
      'prepare',
      'stage:JWT_SECRET',
      'stage:REDIS_PASSWORD',
      'test:JWT_SECRET',
      'test:REDIS_PASSWORD',
      'stage:POSTGRES_PASSWORD',
      'test:POSTGRES_PASSWORD',
      'commit',
      'deploy',
      'invalidate:POSTGRES_PASSWORD',
      'verify',
      'finish:JWT_SECRET',
      'finish:POSTGRES_PASSWORD',
      'finish:REDIS_PASSWORD',
    ]);
    expect(plan.keys).toEqual(['JWT_SECRET', 'POSTGRES_PASSWORD', 'REDIS_PASSWORD']);
  });

  it('puts a secret whose key another reads (a rotated admin password) after its readers, in every phase', () => {
    const plan = buildPlan({
      secrets: [
        s('PG_ADMIN_PASSWORD', false, { hasAfterDeploy: true }),
        s('APP_PASSWORD', false, { reads: ['PG_ADMIN_PASSWORD'], hasAfterDeploy: true }),
        s('REDIS_ADMIN_PASSWORD', true),
        s('REDIS_PASSWORD', true, { reads: ['REDIS_ADMIN_PASSWORD'] }),
        s('REPORTS_PASSWORD', false, { reads: ['APP_PASSWORD'] }),
      ],
      trigger: 'compromise',
      verifyChecks: 1,
      deploy: { command: 'true' },
    });
    const ids = plan.steps.map((x) => x.id);
    const precedes = (a: string, b: string) =>
      expect(ids.indexOf(a), `${a} before ${b}`).toBeLessThan(ids.indexOf(b));
    for (const phase of ['stage', 'test', 'finish']) {
      precedes(`${phase}:APP_PASSWORD`, `${phase}:PG_ADMIN_PASSWORD`);
      precedes(`${phase}:REPORTS_PASSWORD`, `${phase}:APP_PASSWORD`);
      precedes(`${phase}:REDIS_PASSWORD`, `${phase}:REDIS_ADMIN_PASSWORD`);
    }
    precedes('invalidate:APP_PASSWORD', 'invalidate:PG_ADMIN_PASSWORD');
    expect(plan.keys).toEqual([
      'PG_ADMIN_PASSWORD',
      'APP_PASSWORD',
      'REDIS_ADMIN_PASSWORD',
      'REDIS_PASSWORD',
      'REPORTS_PASSWORD',
    ]);
    // Without readers, config order (the other tests); a cycle keeps it too.
    const cycle = buildPlan({
      secrets: [s('A', true, { reads: ['B'] }), s('B', true, { reads: ['A'] })],
      trigger: 'scheduled',
      verifyChecks: 1,
    });
    expect(cycle.steps.filter((x) => x.phase === 'finish').map((x) => x.id)).toHaveLength(2);
  });

  it('honours --only and rejects unknown keys', () => {
    const plan = buildPlan({ secrets, trigger: 'scheduled', only: ['REDIS_PASSWORD'], verifyChecks: 0 });
    expect(plan.keys).toEqual(['REDIS_PASSWORD']);
    expect(() => buildPlan({ secrets, trigger: 'scheduled', only: ['NOPE'], verifyChecks: 0 })).toThrow(
      RekeyError,
    );
  });

  it('personnel rotates everything unless --force', () => {
    const all = buildPlan({ secrets, trigger: 'personnel', only: ['REDIS_PASSWORD'], verifyChecks: 0 });
    expect(all.keys).toHaveLength(3);
    expect(all.warnings.join()).toMatch(/--only ignored/);
    const forced = buildPlan({
      secrets,
      trigger: 'personnel',
      only: ['REDIS_PASSWORD'],
      force: true,
      verifyChecks: 0,
    });
    expect(forced.keys).toEqual(['REDIS_PASSWORD']);
  });

  it('purges sessions as configured, and always on compromise', () => {
    const sessions = { describe: 'purge', on: ['compromise' as const] };
    expect(buildPlan({ secrets, trigger: 'scheduled', sessions, verifyChecks: 0 }).purgeSessions).toBe(false);
    expect(buildPlan({ secrets, trigger: 'compromise', sessions, verifyChecks: 0 }).purgeSessions).toBe(true);
    expect(
      buildPlan({ secrets, trigger: 'release', sessions: { describe: 'purge' }, verifyChecks: 0 })
        .purgeSessions,
    ).toBe(true);
    expect(buildPlan({ secrets, trigger: 'compromise', verifyChecks: 0 }).warnings.join()).toMatch(
      /no `sessions`/,
    );
  });

  it('warns when live secrets rotate without a deploy', () => {
    expect(buildPlan({ secrets, trigger: 'scheduled', verifyChecks: 0 }).warnings.join()).toMatch(
      /no deploy command/,
    );
  });
});
