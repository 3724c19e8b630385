/**
 * The doctor before a rotation, through the built CLI: `rekey plan` lists high and critical findings
 * first; `rekey rotate` refuses on a critical finding it does not remedy (a broken audit log: exit 2,
 * ERR_DOCTOR_CRITICAL, nothing changed) unless --force, and a critical finding it remedies (the
 * current JWT secret in git history, rotated) does not stop it, and only the compromise rotation
 * (which empties the grace slot) ends that finding.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../engine/stack.js';
import { runToEnd } from '../helpers/run.js';
import { doctorStack } from './helpers.js';

const CONFIG = `envFile: .env.production
secrets:
  - { key: JWT_SECRET, type: jwt, previousKey: JWT_SECRET_PREVIOUS }
  - { key: API_SECRET_KEY, type: api-key }
`;

describe('doctor before a rotation', () => {
  it('plan shows critical findings first; rotate refuses on one it does not fix unless --force', async () => {
    const s = await doctorStack(undefined, CONFIG);
    const run = (args: string[]) =>
      runToEnd(process.execPath, [CLI, '--config', path.join(s.dir, 'rekey.yaml'), ...args], {
        env: { ...process.env, NO_COLOR: '1' },
      });
    await fs.writeFile(path.join(s.dir, 'rekey-audit.jsonl'), '{"seq":1,"kind":"rotate","hash":"forged"}\n');
    const before = await fs.readFile(s.envFile, 'utf8');

    const plan = await run(['plan', '--json']);
    expect(plan.code, plan.stderr).toBe(0);
    expect(JSON.parse(plan.stdout).doctor.map((f: { rule: string }) => f.rule)).toEqual(['RK604']);
    const human = await run(['plan']);
    expect(human.stderr.indexOf('RK604 critical')).toBeLessThan(human.stderr.indexOf('secrets:'));

    const refused = await run(['rotate', '--yes']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ERR_DOCTOR_CRITICAL: critical finding the rotation does not fix: RK604/);
    expect(await fs.readFile(s.envFile, 'utf8')).toBe(before);

    const forced = await run(['rotate', '--yes', '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/warning: rotating despite RK604 critical/);
  });

  it('a current value in git history does not stop the rotation that replaces it', async () => {
    const s = await doctorStack(undefined, CONFIG);
    s.git('init', '-q');
    s.git('add', '.env.production', 'rekey.yaml');
    s.git('commit', '-qm', 'oops');
    s.git('rm', '-q', '--cached', '.env.production');
    await fs.writeFile(path.join(s.dir, '.gitignore'), '.env.production*\n');
    s.git('add', '.gitignore');
    s.git('commit', '-qm', 'ignore');
    const run = (args: string[]) =>
      runToEnd(process.execPath, [CLI, '--config', path.join(s.dir, 'rekey.yaml'), ...args], {
        env: { ...process.env, NO_COLOR: '1' },
      });
    const plan = await run(['plan', '--json']);
    expect(JSON.parse(plan.stdout).doctor.map((f: { rule: string }) => f.rule)).toEqual(['RK201']);
    // A scheduled rotation moves the leaked JWT secret into its grace slot, where it still works:
    // the doctor still says so. The compromise rotation its fix names empties the slot.
    const rotated = await run(['rotate', '--yes']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const graced = await run(['doctor', '--json', '--only', 'RK201,RK202']);
    expect(
      JSON.parse(graced.stdout).findings.map(
        (f: { rule: string; keys?: string[] }) => `${f.rule} ${f.keys ?? ''}`,
      ),
    ).toEqual(['RK201 JWT_SECRET_PREVIOUS']);
    const evicted = await run(['rotate', '--yes', '--trigger', 'compromise']);
    expect(evicted.code, evicted.stderr).toBe(0);
    const after = await run(['doctor', '--json', '--only', 'RK201,RK202']);
    expect(JSON.parse(after.stdout).findings.map((f: { rule: string }) => f.rule)).toEqual(['RK202']);
  });
});
