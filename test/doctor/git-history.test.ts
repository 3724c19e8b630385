/**
 * RK2xx: a current value in any commit of any ref (critical), the env file committed with values no
 * longer current (medium); no repository or no git: nothing / "could not check", never a crash. The
 * values never reach git's argv (they go nowhere: blobs are read by id and searched in memory).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gitHistoryCheck } from '../../src/doctor/checks/git-history.js';
import { runDoctor } from '../../src/doctor/run.js';
import { doctorStack, envText, STRONG } from './helpers.js';

describe('doctor: git history', () => {
  it('RK201: the current JWT secret in a file of an old commit on another branch', async () => {
    const s = await doctorStack();
    s.git('init', '-q');
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production*\n');
    s.git('add', '.gitignore', 'rekey.yaml');
    s.git('commit', '-qm', 'init');
    s.git('checkout', '-qb', 'wip');
    await fs.mkdir(path.join(s.dir, 'config'));
    await fs.writeFile(
      path.join(s.dir, 'config', 'app.ts'),
      `export const secret = '${STRONG.JWT_SECRET}';\n`,
    );
    s.git('add', 'config/app.ts');
    s.git('commit', '-qm', 'oops');
    const leaked = s.git('rev-parse', '--short', 'HEAD').trim();
    s.git('rm', '-q', 'config/app.ts');
    s.git('commit', '-qm', 'remove it');
    s.git('checkout', '-q', 'main');

    const findings = await s.check(gitHistoryCheck);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: 'RK201', severity: 'critical', keys: ['JWT_SECRET'] });
    expect(findings[0]!.message).toContain('config/app.ts');
    expect(findings[0]!.message).toContain(leaked);
    expect(JSON.stringify(findings)).not.toContain(STRONG.JWT_SECRET);
  });

  it('RK202: the env file committed once with values that are no longer current', async () => {
    const s = await doctorStack();
    s.git('init', '-q');
    await fs.writeFile(s.envFile, envText({ JWT_SECRET: 'an-old-value-rotated-long-ago-xxxxxxxxxxxxxx' }));
    s.git('add', '.env.production', 'rekey.yaml');
    s.git('commit', '-qm', 'init');
    s.git('rm', '-q', '--cached', '.env.production');
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production*\n');
    s.git('add', '.gitignore');
    s.git('commit', '-qm', 'ignore it');
    await fs.writeFile(s.envFile, envText({ ...STRONG, JWT_SECRET_PREVIOUS: '' }), { mode: 0o600 });
    expect((await s.check(gitHistoryCheck)).map((f) => `${f.rule} ${f.severity}`)).toEqual(['RK202 medium']);
  });

  it('finds nothing outside a repository or in a clean one; without git it says it could not check', async () => {
    const s = await doctorStack();
    expect(await s.check(gitHistoryCheck)).toEqual([]);
    s.git('init', '-q');
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production*\n');
    s.git('add', '.');
    s.git('commit', '-qm', 'clean');
    expect(await s.check(gitHistoryCheck)).toEqual([]);

    const ctx = await s.context();
    const path0 = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const report = await runDoctor(ctx, { only: ['RK201', 'RK202'] });
      expect(report.findings.map((f) => f.rule)).toEqual(['RK901']);
      expect(report.findings[0]!.message).toMatch(/could not check git history: git is not installed/);
    } finally {
      process.env.PATH = path0;
    }
  });
});
