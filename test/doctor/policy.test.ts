/** RK6xx: never-rotated / overdue secrets (as `rekey check` sees them) and an audit log that does not verify. */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { policyCheck } from '../../src/doctor/checks/policy.js';
import { formatAnnotation } from '../../src/envfile/annotation.js';
import { doctorStack, envText, STRONG } from './helpers.js';

describe('doctor: policy', () => {
  it('RK601: medium for a secret of unknown age, high once its known age passed maxAge; nothing when fresh', async () => {
    const s = await doctorStack();
    const unknown = await s.check(policyCheck);
    expect(unknown.map((f) => `${f.rule} ${f.severity} ${f.keys}`)).toEqual([
      'RK601 medium JWT_SECRET',
      'RK601 medium API_SECRET_KEY',
      'RK601 medium REDIS_PASSWORD',
    ]);
    const old = new Date(Date.now() - 400 * 86_400_000);
    await fs.writeFile(
      s.envFile,
      `${formatAnnotation(old)}\n${envText({ ...STRONG, JWT_SECRET_PREVIOUS: '' })}`,
    );
    expect((await s.check(policyCheck)).map((f) => `${f.rule} ${f.severity}`)).toContain('RK601 high');
    await fs.writeFile(
      s.envFile,
      `${formatAnnotation(new Date())}\n${envText({ ...STRONG, JWT_SECRET_PREVIOUS: '' })}`,
    );
    expect(await s.check(policyCheck)).toEqual([]);
  });

  it('RK604: an audit log someone edited', async () => {
    const s = await doctorStack();
    await fs.writeFile(
      s.envFile,
      `${formatAnnotation(new Date())}\n${envText({ ...STRONG, JWT_SECRET_PREVIOUS: '' })}`,
    );
    await fs.writeFile(path.join(s.dir, 'rekey-audit.jsonl'), '{"seq":1,"kind":"rotate","hash":"forged"}\n');
    const findings = await s.check(policyCheck);
    expect(findings.map((f) => `${f.rule} ${f.severity}`)).toEqual(['RK604 critical']);
  });
});
